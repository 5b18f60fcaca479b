"""The daemon's UDP endpoint: a ``Listener`` driven by the asyncio event loop.

Like aioquic's ``QuicConnectionProtocol``: every datagram goes to the listener; one
flush per loop iteration (however many datagrams arrived in it) drains events to the
sync engine, sends what the protocol allows and re-arms the single timer. Nothing here
blocks or interprets the protocol.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from protocol.peer.connection import Connection
from protocol.peer.events import Event
from protocol.peer.listener import Listener

log = logging.getLogger("cofd.net")

SOCKET_BUFFER = 8 * 1024 * 1024  # bytes: absorbs bursts of a 16 MiB window at line rate
EventHandler = Callable[[Connection, Event], None]


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


def make_udp_socket(host: str, port: int) -> socket.socket:
    """A bound, non-blocking UDP socket with large buffers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class ListenerEndpoint(asyncio.DatagramProtocol):
    """Moves datagrams between a UDP socket and a :class:`Listener`."""

    def __init__(self, listener: Listener, on_event: EventHandler) -> None:
        self.listener = listener
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
            lambda: cls(listener, on_event), sock=sock
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
        sendto = self._transport.sendto
        for data, addr in listener.datagrams_to_send(self._loop.time()):
            sendto(data, addr)  # type: ignore[arg-type]  # a (host, port) from the socket
        self._arm(listener.get_timer())

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
