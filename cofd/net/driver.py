"""A blocking driver for one client ``Connection`` (operations run in the worker pool).

It owns a connected UDP socket and alternates: send what the connection allows, wait
(``poll``) until a datagram arrives or the connection's timer is due, read every
datagram queued, fire the timer if due. The event loop of the daemon is never involved.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable

from cofd.net.endpoint import (
    GSO_UNSUPPORTED,
    SOL_UDP,
    UDP_GRO,
    gso_ancillary,
    gso_runs,
    set_buffers,
)
from protocol.errors import PeerError
from protocol.peer.config import PeerConfig
from protocol.peer.connection import Connection, State
from protocol.peer.crypto import Identity
from protocol.peer.events import Event

RECV_SIZE = 65536  # a GRO-coalesced run; single datagrams over 1452 bytes are dropped
MAX_READS_PER_WAKE = 512  # datagrams read before sending again (keeps ACKs flowing)
_GRO_SIZE = struct.Struct("=i")
_GRO_CMSG_SPACE = socket.CMSG_SPACE(_GRO_SIZE.size)


def resolve(host: str, port: int) -> tuple[int, tuple[object, ...]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise PeerError(f"cannot resolve peer host {host!r}: {exc.strerror}") from exc
    family, _, _, _, addr = infos[0]
    return family, tuple(addr)


class Driver:
    """Pumps one client connection over a blocking-with-poll UDP socket."""

    def __init__(
        self,
        conn: Connection,
        sock: socket.socket,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conn = conn
        self._sock = sock
        self._clock = clock
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self._events: deque[Event] = deque()
        self._buffer = bytearray(RECV_SIZE)
        self._view = memoryview(self._buffer)
        self._gso = True  # until the kernel says otherwise
        with contextlib.suppress(OSError):  # coalesced receive: one recvmsg per GSO run
            sock.setsockopt(SOL_UDP, UDP_GRO, 1)

    @classmethod
    def connect(
        cls,
        identity: Identity,
        server_key: bytes,
        host: str,
        port: int,
        config: PeerConfig,
    ) -> Driver:
        family, addr = resolve(host, port)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            set_buffers(sock)
            sock.connect(addr)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise PeerError(f"cannot reach peer {host}:{port}: {exc.strerror}") from exc
        name = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            conn = Connection.client(identity, server_key, addr, config=config, peer_name=name)
        except BaseException:  # a key that is not a usable X25519 point, and the like
            sock.close()
            raise
        return cls(conn, sock)

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, pumping the socket for at most ``timeout`` seconds (None: forever)."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            if (event := self.conn.next_event()) is not None:
                return event
            self._send()
            if self.conn.state is State.CLOSED and not self.conn.datagrams_pending():
                return self.conn.next_event()
            now = self._clock()
            timer = self.conn.get_timer()
            wait_until = (
                min(t for t in (timer, deadline) if t is not None)
                if (timer is not None or deadline is not None)
                else None
            )
            if wait_until is None:
                self._wait(None)
            elif wait_until > now:
                self._wait(wait_until - now)
            self._read()
            now = self._clock()
            timer = self.conn.get_timer()
            if timer is not None and now >= timer:
                self.conn.handle_timer(now)
            if deadline is not None and now >= deadline:
                # What the last read produced is the answer: popped to look, it must
                # not be dropped (lost blocks left a fetch waiting until the
                # connection idled out, when a paused receiver woke past its deadline).
                if (event := self.conn.next_event()) is not None:
                    return event
                self._send()
                return None

    def _wait(self, seconds: float | None) -> None:
        ms = -1 if seconds is None else max(0, int(seconds * 1000 + 0.999))
        self._poll.poll(ms)

    def _read(self) -> None:
        recvmsg, conn = self._sock.recvmsg_into, self.conn
        buffers, view = [self._buffer], self._view
        count = 0
        while count < MAX_READS_PER_WAKE:
            try:
                size, ancillary, _, _ = recvmsg(buffers, _GRO_CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                self._refused()
                count += 1
                continue  # ICMP port unreachable mid-session: the peer's timers decide
            segment = size
            for level, kind, data in ancillary:
                if level == SOL_UDP and kind == UDP_GRO and len(data) >= _GRO_SIZE.size:
                    segment = max(1, _GRO_SIZE.unpack_from(data)[0])
            if size:
                conn.receive_datagrams(view, size, segment, self._clock())
                count += -(-size // segment)
            else:  # an empty datagram: dropped and counted by the connection
                conn.receive_datagram(b"", conn.peer_addr, self._clock())
                count += 1

    def _send(self) -> None:
        datagrams = self.conn.datagrams_to_send(self._clock())
        if not datagrams:
            return
        runs = gso_runs(datagrams) if self._gso else [(0, len(datagrams))]
        for i, j in runs:
            if j - i > 1 and self._gso and self._send_gso(datagrams[i:j]):
                continue
            for data in datagrams[i:j]:
                self._send_one(data)

    def _send_gso(self, run: list[bytes]) -> bool:
        """One sendmsg for a run of equal-sized datagrams; False to send one by one."""
        for _ in range(2):
            try:
                self._sock.sendmsg([b"".join(run)], gso_ancillary(len(run[0])))
                return True
            except (BlockingIOError, InterruptedError):
                self._poll.poll(1)  # the socket buffer is full: give it a moment
            except OSError as exc:
                if exc.errno in GSO_UNSUPPORTED:
                    self._gso = False
                return False
        return False

    def _send_one(self, data: bytes) -> None:
        try:
            self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            self._poll.poll(1)  # the socket buffer is full: the window keeps track
        except ConnectionRefusedError:
            self._refused()
        except OSError:
            pass  # unreachable networks and friends: treated as loss

    def _refused(self) -> None:
        """ICMP port unreachable. Before the handshake completes it means nothing
        listens there (as a TCP reset would): say so now rather than after the whole
        handshake budget. Later, the session's own timers decide."""
        if self.conn.state is State.HANDSHAKE:
            raise PeerError(
                f"peer {self.conn.peer_name} refused the connection: no cofd listens on "
                "that UDP port (is it running, and is its [peer] listen address this one?)"
            )

    def close(self) -> None:
        """Close the session politely (CLOSE frame), then the socket."""
        if self.conn.state is not State.CLOSED:
            self.conn.close()
        self._send()
        self._sock.close()
