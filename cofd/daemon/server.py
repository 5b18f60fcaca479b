"""The RPC socket: creating it privately, accepting connections, reading frames.

Each connection is read by one task; its requests are answered one after another
(a client sends its next request after the previous reply), while any number of
connections are served concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

from cofd.daemon.dispatch import Dispatcher, SendFrame
from cofd.daemon.output import Drain
from protocol.errors import ProtocolError
from protocol.home import private_tmp_dir
from protocol.rpc import Error, FrameDecoder, Request, encode_frame

log = logging.getLogger("cofd.server")

# Bytes read from a connection at a time; frames larger than this arrive in pieces.
READ_CHUNK = 256 * 1024
# How long closing connections may take to flush their last reply at shutdown.
CLOSE_GRACE_SECONDS = 2.0


class SocketSetupError(Exception):
    """The socket cannot be created safely; the message is one line for the user."""


def prepare_socket_dir(path: Path) -> None:
    """Create the fallback ``/tmp/cof-<uid>`` privately; refuse one we do not own.

    Another local user could pre-create that directory to capture our socket, so it
    must be ours and closed to everyone else.
    """
    parent = path.parent
    if parent != private_tmp_dir():
        return
    with contextlib.suppress(FileExistsError):
        parent.mkdir(mode=0o700)
    info = parent.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SocketSetupError(
            f"refusing to use {parent}: it must be a directory owned by you with mode 0700"
        )


def bind_private_socket(path: Path) -> socket.socket:
    """A Unix stream socket bound at ``path`` with mode 0600 from the start.

    The caller must hold the instance lock: any socket file already at ``path`` is then
    stale (its daemon is gone) and is replaced.
    """
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise SocketSetupError(f"refusing to replace {path}: it is not a socket")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # bind() creates the file with mode 0777 & ~umask: narrow the umask around it so
    # the socket is never reachable by others, not even between bind and chmod. This
    # runs before the worker pool exists, so no other thread sees the changed umask.
    previous = os.umask(0o177)
    try:
        sock.bind(os.fspath(path))
    except OSError as exc:
        sock.close()
        raise SocketSetupError(f"cannot create socket {path}: {exc.strerror}") from exc
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    return sock


class RpcServer:
    """Accepts connections on a bound socket and hands requests to the dispatcher."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, sock: socket.socket) -> None:
        """Start listening on ``sock`` (already bound)."""
        self._server = await asyncio.start_unix_server(self._on_connection, sock=sock)

    def stop_accepting(self) -> None:
        """Close the listening socket; established connections stay open."""
        if self._server is not None:
            self._server.close()

    async def close_connections(self) -> None:
        """Cancel every connection task and give them a moment to flush and close."""
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_GRACE_SECONDS)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the daemon is stopping
        except Exception:
            log.exception("connection handler failed")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                # A client that stopped reading (a pager left open) never lets the
                # buffered output drain: past a grace period the connection is cut.
                await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE_SECONDS)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        send = _sender(writer)
        backlog: list[bytes] = []  # bytes the client sent while a request ran
        while data := (backlog.pop(0) if backlog else await reader.read(READ_CHUNK)):
            try:
                messages = decoder.feed(data)
            except ProtocolError as exc:
                # The stream is out of sync: say why once, then hang up.
                log.warning("closing connection: %s", exc)
                send(encode_frame(Error(0, exc.code, exc.message)))
                return
            for message in messages:
                if not isinstance(message, Request):
                    error = ProtocolError(f"expected a request, got {type(message).__name__}")
                    send(encode_frame(Error(message.id, error.code, error.message)))
                    return
                client_left = await self._handle_watching(
                    message, send, reader, backlog, writer.drain
                )
                if client_left:
                    return
                await writer.drain()

    async def _handle_watching(
        self,
        request: Request,
        send: SendFrame,
        reader: asyncio.StreamReader,
        backlog: list[bytes],
        drain: Drain,
    ) -> bool:
        """Handle ``request`` while watching the socket: if the client goes away (its
        end closed: Ctrl-C, a killed cofctl), tell the operation so it can stop early.
        Bytes that arrive meanwhile go to ``backlog``. True when the client left."""
        cancelled = threading.Event()
        handling = asyncio.ensure_future(self._dispatcher.handle(request, send, cancelled, drain))
        watching: asyncio.Future[bytes] | None = asyncio.ensure_future(reader.read(READ_CHUNK))
        client_left = False
        try:
            while watching is not None:
                if not handling.done():
                    racing: set[asyncio.Future[Any]] = {handling, watching}
                    await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                if not watching.done():
                    break
                try:
                    data = watching.result()
                except ConnectionError:
                    data = b""
                watching = None
                if not data:
                    client_left = True
                    if not handling.done():  # after the reply, leaving is what a client does
                        log.info("client left during %r: asking it to stop", request.op)
                        cancelled.set()
                    break
                backlog.append(data)
                if not handling.done():
                    watching = asyncio.ensure_future(reader.read(READ_CHUNK))
            await asyncio.shield(handling)  # the operation ends at a safe point of its own
        except asyncio.CancelledError:  # the daemon is stopping: stop early, as above
            cancelled.set()
            raise
        finally:
            if watching is not None and not watching.done():
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await watching
        return client_left


def _sender(writer: asyncio.StreamWriter) -> SendFrame:
    def send(frame: bytes) -> None:
        if not writer.is_closing():
            writer.write(frame)

    return send
