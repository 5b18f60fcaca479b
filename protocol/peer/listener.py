"""Server side: stateless cookies, handshakes, and demultiplexing to connections.

Before a client has echoed a valid cookie the listener keeps no state for it and its
only reply (a COOKIE packet, 21 bytes) is far below 3x the 101-byte INIT it answers.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable

from protocol.peer import crypto, limits, wire
from protocol.peer import events as ev
from protocol.peer.config import PeerConfig, random_cid
from protocol.peer.connection import Connection, State


class Listener:
    """Accepts peers for one server identity; feed it every datagram of the socket."""

    def __init__(
        self,
        identity: crypto.Identity,
        *,
        config: PeerConfig | None = None,
        rng: crypto.Rng = os.urandom,
        allow_peer: Callable[[bytes], bool] | None = None,
    ) -> None:
        """``allow_peer(public_key)`` may refuse unknown keys outright (silently)."""
        self.identity = identity
        self.config = config or PeerConfig()
        self.connections: dict[int, Connection] = {}
        self.stats: Counter[str] = Counter()
        self._rng = rng
        self._allow = allow_peer
        self._cookies = crypto.CookieJar(rng)
        self._by_ephemeral: dict[bytes, tuple[Connection, bytes, float]] = {}
        self._half_open: dict[int, bytes] = {}  # connection id -> client ephemeral key
        self._replies: deque[tuple[bytes, object]] = deque()

    def receive_datagram(self, data: bytes, addr: object, now: float) -> None:
        """Route one datagram; anything invalid is dropped and counted in ``stats``."""
        if len(data) > limits.MAX_PACKET_SIZE:
            self.stats["dropped_oversized"] += 1
            return
        foreign = wire.foreign_init_cid(data)
        if foreign is not None:  # a client of another version: tell it ours, once per INIT
            self.stats["foreign_version"] += 1
            return self._reply(wire.version_notice(foreign), addr, len(data))
        try:
            kind = wire.packet_kind(data)
            if kind == wire.INIT:
                return self._on_init(wire.InitPacket.from_wire(data), len(data), addr, now)
            if kind == wire.DATA:
                return self._on_data(data, addr, now)
        except wire.WireError:
            self.stats["dropped_malformed"] += 1
            return
        self.stats["dropped_unexpected"] += 1

    def _on_data(self, data: bytes, addr: object, now: float) -> None:
        conn = self.connections.get(wire.receiver_cid(data))
        if conn is None or conn.peer_addr != addr:
            self.stats["dropped_unauthenticated"] += 1
            return
        conn.receive_datagram(data, addr, now)
        if conn.confirmed and conn.local_cid in self._half_open:
            self._by_ephemeral.pop(self._half_open.pop(conn.local_cid), None)

    def _on_init(self, packet: wire.InitPacket, size: int, addr: object, now: float) -> None:
        known = self._by_ephemeral.get(packet.ephemeral)
        if known is not None:  # the client lost our RESPONSE: repeat it, nothing new
            conn, response, _ = known
            if conn.peer_addr == addr and not conn.confirmed:
                self._reply(response, addr, size)
            return
        if not packet.cookie or not self._cookies.check(
            packet.cookie, addr, packet.sender_cid, now
        ):
            cookie = self._cookies.make(addr, packet.sender_cid, now)
            self._reply(wire.CookiePacket(packet.sender_cid, cookie).to_wire(), addr, size)
            return
        if not self._has_room():
            self.stats["dropped_session_limit"] += 1
            return
        self._accept(packet, size, addr, now)

    def _accept(self, packet: wire.InitPacket, size: int, addr: object, now: float) -> None:
        local_cid = random_cid(self._rng)
        while local_cid in self.connections:
            local_cid = random_cid(self._rng)
        try:
            accepted = crypto.respond(self.identity, packet, local_cid, self._rng)
        except wire.WireError:
            self.stats["dropped_unauthenticated"] += 1
            return
        if self._allow is not None and not self._allow(accepted.peer_key):
            self.stats["dropped_denied"] += 1
            return
        same_peer = sum(c.peer_key == accepted.peer_key for c in self.connections.values())
        if same_peer >= limits.MAX_SESSIONS_PER_PEER:
            self.stats["dropped_session_limit"] += 1
            return
        conn = Connection.accepted(
            accepted, packet.sender_cid, local_cid, addr, self.config, self._rng, now
        )
        self.connections[local_cid] = conn
        self._by_ephemeral[packet.ephemeral] = (conn, accepted.response, now)
        self._half_open[local_cid] = packet.ephemeral
        self._reply(accepted.response, addr, size)

    def _has_room(self) -> bool:
        return (
            len(self.connections) < limits.MAX_SESSIONS
            and len(self._by_ephemeral) < limits.MAX_HALF_OPEN
        )

    def _reply(self, datagram: bytes, addr: object, received: int) -> None:
        if len(datagram) > limits.AMPLIFICATION_FACTOR * received:  # never by construction
            self.stats["dropped_amplification"] += 1
            return
        self._replies.append((datagram, addr))

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, object]]:
        """``(datagram, address)`` pairs to send now, handshake replies first."""
        out = list(self._replies)
        self._replies.clear()
        for conn in self.connections.values():
            out.extend((d, conn.peer_addr) for d in conn.datagrams_to_send(now))
        return out

    def get_timer(self) -> float | None:
        times = [c.get_timer() for c in self.connections.values()]
        times += [t + limits.HANDSHAKE_TIMEOUT for _, _, t in self._by_ephemeral.values()]
        return min((t for t in times if t is not None), default=None)

    def handle_timer(self, now: float) -> None:
        for key, (conn, _, started) in list(self._by_ephemeral.items()):
            if now >= started + limits.HANDSHAKE_TIMEOUT:
                del self._by_ephemeral[key]
                self._half_open.pop(conn.local_cid, None)
                if not conn.confirmed:  # never proved it holds the keys: forget it
                    self.connections.pop(conn.local_cid, None)
                    self.stats["handshakes_expired"] += 1
        for conn in list(self.connections.values()):
            timer = conn.get_timer()
            if timer is not None and now >= timer:
                conn.handle_timer(now)

    def next_event(self) -> tuple[Connection, ev.Event] | None:
        """The next event of any connection; closed, drained connections are forgotten."""
        for cid, conn in list(self.connections.items()):
            event = conn.next_event()
            if event is not None:
                return conn, event
            if conn.state is State.CLOSED and not conn.datagrams_pending():
                del self.connections[cid]
        return None
