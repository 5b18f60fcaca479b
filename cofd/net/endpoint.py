"""The daemon's UDP endpoint: a ``Listener`` driven by the asyncio event loop.

Like aioquic's ``QuicConnectionProtocol``: every datagram goes to the listener; one
flush per loop iteration (however many datagrams arrived in it) drains events to the
sync engine, sends what the protocol allows and re-arms the single timer. Nothing here
blocks or interprets the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
from collections.abc import Callable, Iterator, Sequence

from protocol.peer.connection import Connection
from protocol.peer.events import Event
from protocol.peer.listener import Listener

log = logging.getLogger("cofd.net")

SOCKET_BUFFER = 8 * 1024 * 1024  # bytes: absorbs bursts of a 16 MiB window at line rate
EventHandler = Callable[[Connection, Event], None]

# Linux UDP segmentation offload (GSO, since 4.18) and receive coalescing (GRO, 5.0):
# one sendmsg hands the kernel a run of equally sized datagrams; each still leaves as
# its own datagram (sealed separately), but the per-datagram system-call cost is paid
# once per run. Not in the ``socket`` module of every Python, hence the numbers.
SOL_UDP = 17
UDP_SEGMENT = 103
UDP_GRO = 104
GSO_MAX_SEGMENTS = 64  # the kernel's UDP_MAX_SEGMENTS
GSO_MAX_BYTES = 65000  # a run travels as one UDP payload: below 65507
_SEGMENT_SIZE = struct.Struct("=H")
# errno of a kernel or device without GSO: stop trying; any other error is transient
GSO_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EIO})


def gso_runs(datagrams: Sequence[bytes]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` runs of datagrams that one GSO send can carry: equal sizes,
    except that the last one may be shorter (the kernel's rule)."""
    i, n = 0, len(datagrams)
    while i < n:
        size = len(datagrams[i])
        limit = min(n, i + min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // max(size, 1)))
        j = i + 1
        while j < limit and len(datagrams[j]) == size:
            j += 1
        if j < limit and len(datagrams[j]) < size:
            j += 1
        yield i, j
        i = j


def gso_ancillary(size: int) -> list[tuple[int, int, bytes]]:
    return [(SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(size))]


def parse_listen(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT`` / ``[V6]:PORT`` / ``HOST`` to ``(host, port)``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        raise ValueError(f"bad port in listen address {text!r}")
    number = int(port) if port else default_port
    if not 0 <= number < 65536 or not host:
        raise ValueError(f"bad listen address {text!r}")
    return host, number


def set_buffers(sock: socket.socket, size: int = SOCKET_BUFFER) -> None:
    """Ask for ``size``-byte socket buffers; beyond ``net.core.[rw]mem_max`` the kernel
    caps the request, so a privileged daemon forces it (an unprivileged one keeps the
    cap: the protocol's window then absorbs the drops as loss)."""
    for opt, force in (
        (socket.SO_RCVBUF, getattr(socket, "SO_RCVBUFFORCE", None)),
        (socket.SO_SNDBUF, getattr(socket, "SO_SNDBUFFORCE", None)),
    ):
        sock.setsockopt(socket.SOL_SOCKET, opt, size)
        # Linux reports twice the requested size (bookkeeping overhead included).
        if force is not None and sock.getsockopt(socket.SOL_SOCKET, opt) < size:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, force, size)


def make_udp_socket(host: str, port: int) -> socket.socket:
    """A bound, non-blocking UDP socket with large buffers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        set_buffers(sock)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class ListenerEndpoint(asyncio.DatagramProtocol):
    """Moves datagrams between a UDP socket and a :class:`Listener`."""

    def __init__(
        self, listener: Listener, on_event: EventHandler, sock: socket.socket | None = None
    ) -> None:
        self.listener = listener
        self._sock = sock  # for GSO sends; None: every datagram goes through the transport
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._flush_pending = False
        self.closed = False

    @classmethod
    async def start(
        cls, listener: Listener, on_event: EventHandler, sock: socket.socket
    ) -> ListenerEndpoint:
        loop = asyncio.get_running_loop()
        transport, endpoint = await loop.create_datagram_endpoint(
            lambda: cls(listener, on_event, sock), sock=sock
        )
        endpoint._transport = transport  # uvloop calls connection_made a little later
        return endpoint

    @property
    def address(self) -> tuple[str, int]:
        assert self._transport is not None
        name = self._transport.get_extra_info("sockname")
        return str(name[0]), int(name[1])

    # -- asyncio callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's UDPTransport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.listener.receive_datagram(data, addr, self._loop.time())
        self.kick()

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (a peer's port closed): the protocol's timers handle the loss.
        log.debug("udp error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()

    # -- driving the listener ------------------------------------------------------------

    def kick(self) -> None:
        """Flush once at the end of this loop iteration (call after any API call)."""
        if not self._flush_pending and not self.closed:
            self._flush_pending = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        if self.closed or self._transport is None:
            return
        listener = self.listener
        while (item := listener.next_event()) is not None:
            try:
                self._on_event(*item)
            except Exception:
                log.exception("peer event handler failed")
        out = listener.datagrams_to_send(self._loop.time())
        if out:
            self._send(out)
        self._arm(listener.get_timer())

    def _send(self, out: list[tuple[bytes, object]]) -> None:
        """Send in runs per address: GSO for runs of equal sizes, else one by one."""
        assert self._transport is not None
        sendto = self._transport.sendto
        start = 0
        while start < len(out):
            addr = out[start][1]
            end = start + 1
            while end < len(out) and out[end][1] == addr:
                end += 1
            datagrams = [d for d, _ in out[start:end]]
            for i, j in gso_runs(datagrams):
                if j - i > 1 and self._sock is not None and self._send_gso(datagrams[i:j], addr):
                    continue
                for data in datagrams[i:j]:
                    sendto(data, addr)  # type: ignore[arg-type]  # (host, port) from the socket
            start = end

    def _send_gso(self, run: list[bytes], addr: object) -> bool:
        """One sendmsg for the run; False (caller sends one by one) when it cannot."""
        assert self._sock is not None
        try:
            self._sock.sendmsg([b"".join(run)], gso_ancillary(len(run[0])), 0, addr)  # type: ignore[arg-type]
        except (BlockingIOError, InterruptedError):
            return False  # the transport queues them until the socket drains
        except OSError as exc:
            if exc.errno in GSO_UNSUPPORTED:
                log.info("udp: no segmentation offload (%s); sending one by one", exc)
                self._sock = None
            return False
        return True

    def _arm(self, when: float | None) -> None:
        if when == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = None if when is None else self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        self.listener.handle_timer(self._loop.time())
        self.flush()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.closed = True
