"""The connection state machine: datagrams and ``now`` in, datagrams, timer and events out.

Use it like aioquic's ``QuicConnection``: after feeding a datagram
(:meth:`Connection.receive_datagram`), firing the timer (:meth:`Connection.handle_timer`)
or calling any API method, call :meth:`Connection.datagrams_to_send`, re-arm the one
timer from :meth:`Connection.get_timer` and drain :meth:`Connection.next_event`.
Clients are made with :meth:`Connection.client`; servers get theirs from
:class:`protocol.peer.listener.Listener`.
"""

from __future__ import annotations

import enum
import os
from collections import Counter, deque

from protocol import codec
from protocol.errors import CofError, PeerError, PeerTimeoutError, ProtocolError, error_from_wire
from protocol.peer import crypto, limits, wire
from protocol.peer import events as ev
from protocol.peer import messages as m
from protocol.peer.config import LocalProtocolError, PeerConfig, addr_name, random_cid
from protocol.peer.recovery import Recovery, SentPacket, insert_range
from protocol.peer.transfer import BlockFetcher, MessageAssembler

MSG_FRAME_OVERHEAD = 3 + 1 + 1 + 5 + 5 + 5 + 3  # array hdrs, type, 3 x uint32, bin16 hdr
# ACK after this many ack-eliciting packets (RFC 9000 section 13.2.2 suggests 2; a
# bulk receiver acking every 10th packet saves most of the ACK traffic while the
# initial window of 10 packets is still acknowledged at once). Out-of-order arrivals
# and completed messages are acknowledged without waiting for the threshold.
ACK_EVERY = 10
# A sender skips one packet number now and then, at random (RFC 9000, 21.4): a peer
# that acknowledges packets it never received ("optimistic ACKs", to make us send
# faster) will sooner or later acknowledge a number that was never sent, and that
# ends the session. Every SKIP_MIN to SKIP_MIN + SKIP_SPREAD packets: one extra ACK
# from an honest peer (it sees a gap) per 1.4-4 MB sent. The last SKIPS_KEPT are
# checked; an acker that claims everything up to the newest packet claims those.
SKIP_MIN = 1024
SKIP_SPREAD = 2048
SKIPS_KEPT = 8
_DATA_TYPE = wire.type_byte(wire.DATA)
_DATA_HEADER = wire.DATA_HEADER
_MIN_DATA = limits.HEADER_SIZE + limits.AEAD_TAG_SIZE


class State(enum.Enum):
    HANDSHAKE = "handshake"  # client: INIT sent, waiting for RESPONSE
    ESTABLISHED = "established"
    CLOSED = "closed"


class Connection:
    """One authenticated, encrypted, reliable session with a peer daemon."""

    def __init__(
        self, peer_addr: object, config: PeerConfig, peer_name: str | None, rng: crypto.Rng
    ) -> None:
        self.peer_addr = peer_addr
        self.peer_name = peer_name or addr_name(peer_addr)
        self.config = config
        self.state = State.HANDSHAKE
        self.local_cid = random_cid(rng)
        self.remote_cid = 0
        self.peer_key = b""
        self.confirmed = False  # server: the client proved it has the keys
        self._drops: Counter[str] = Counter()
        self._rx_datagrams = self._rx_bytes = self._tx_datagrams = self._tx_bytes = 0
        self._lost_packets = 0
        self._rng = rng
        self._protection: crypto.PacketProtection | None = None
        self._replay = crypto.ReplayWindow()
        self._recovery = Recovery(config.packet_size, config.initial_rtt)
        self._next_pn = 0
        self._next_skip = self._skip_after(0)
        self._skipped: deque[int] = deque(maxlen=SKIPS_KEPT)
        self._recv_ranges: list[list[int]] = []  # [[high, low], ...], descending
        self._ack_pending = 0
        self._ack_at: float | None = None
        self._ack_now = False  # a gap or a message arrived: acknowledge without delay
        self._largest_rx_time = 0.0
        self._control: deque[wire.Frame] = deque()
        self._blocks: deque[bytes] = deque()  # encoded block fragment payloads
        self._probe = False
        self._pacing_at: float | None = None
        self._assembler = MessageAssembler()
        self._next_msg_id = 0
        self._next_rid = 1
        self._requests: dict[int, float] = {}  # request id -> last progress
        self._unsent_requests = 0  # requests whose clock starts when first sent
        self._msg_progress = -1.0
        self._served_pending = 0
        self._fetcher = BlockFetcher(
            self.peer_name, config.timeout, config.max_retries, config.max_blocks_in_flight
        )
        self._events: deque[ev.Event] = deque()
        self._last_rx = 0.0
        self._last_activity = 0.0
        self._handshake: crypto.InitiatorHandshake | None = None
        self._cookie = b""
        self._hs_started: float | None = None
        self._hs_next = 0.0
        self._hs_attempts = 0

    # --- construction ------------------------------------------------------------

    @classmethod
    def client(
        cls,
        identity: crypto.Identity,
        server_key: bytes,
        peer_addr: object,
        *,
        config: PeerConfig | None = None,
        peer_name: str | None = None,
        rng: crypto.Rng = os.urandom,
    ) -> Connection:
        """A client connection; it sends its INIT on the first ``datagrams_to_send``."""
        conn = cls(peer_addr, config or PeerConfig(), peer_name, rng)
        conn._handshake = crypto.InitiatorHandshake(identity, server_key, conn.local_cid, rng)
        conn.peer_key = server_key
        return conn

    @classmethod
    def accepted(
        cls,
        accepted: crypto.AcceptedInit,
        remote_cid: int,
        local_cid: int,
        peer_addr: object,
        config: PeerConfig,
        rng: crypto.Rng,
        now: float,
    ) -> Connection:
        """A server connection after a valid INIT (called by the Listener)."""
        conn = cls(peer_addr, config, None, rng)
        conn.local_cid, conn.remote_cid = local_cid, remote_cid
        conn._establish(accepted.peer_key, accepted.keys, now)
        return conn

    def _establish(self, peer_key: bytes, keys: crypto.SessionKeys, now: float) -> None:
        self.state = State.ESTABLISHED
        self.peer_key = peer_key
        self._protection = crypto.PacketProtection(keys)
        self._last_rx = self._last_activity = now
        self._emit(ev.HandshakeCompleted(peer_key))

    # --- API for the sync engine ---------------------------------------------------

    def send_request(self, message: m.Message) -> int:
        """Send ListRefs, Want or PushOffer; the answer comes as an event. Returns its id."""
        if message.KIND not in m.REQUEST_KINDS:
            raise LocalProtocolError(f"{type(message).__name__} is not a request")
        if len(self._requests) >= limits.MAX_REQUESTS_IN_FLIGHT:
            raise LocalProtocolError("too many requests in flight")
        rid, self._next_rid = self._next_rid, self._next_rid + 1
        self._requests[rid] = -1.0  # clock starts when it is first sent
        self._unsent_requests += 1
        self._send_message(rid, message)
        return rid

    def send_response(self, request_id: int, message: m.Message) -> None:
        """Answer a RequestReceived with Refs, Lacking, PushResult or ErrorReply."""
        if message.KIND not in m.RESPONSE_KINDS:
            raise LocalProtocolError(f"{type(message).__name__} is not a response")
        self._send_message(request_id, message)

    def fetch_blocks(self, ids: list[m.BlockId]) -> None:
        """Queue blocks to fetch (duplicates ignored); each ends in BlocksReceived or
        BlockFailed."""
        self._check_open()
        self._fetcher.want(ids)

    def send_block(self, slot: int, data: bytes) -> None:
        """Server side: answer one slot of a BlocksRequested event with the block bytes."""
        if len(data) > limits.MAX_BLOCK_BYTES:
            raise LocalProtocolError("block larger than MAX_BLOCK_BYTES")
        self._check_open()
        self._served_pending = max(0, self._served_pending - 1)
        sizes = wire.fragment_sizes(len(data), self.config.packet_size)
        last, at, encode, pad = len(sizes) - 1, 0, wire.encode_block_frame, sizes[0]
        for index, size in enumerate(sizes):
            self._blocks.append(encode(index == last, slot, index, data[at : at + size], pad))
            at += size

    def blocks_missing(self, slots: list[int]) -> None:
        """Server side: these slots cannot be served (unknown block or no access)."""
        self._served_pending = max(0, self._served_pending - len(slots))
        for at in range(0, len(slots), limits.MAX_BLOCKS_PER_REQUEST):
            self._send_message(0, m.BlocksMissing(tuple(slots[at : at + 32])))

    def close(self, error: CofError | None = None) -> None:
        """Close the session, telling the peer why (``error.code``) if there is a reason."""
        if self.state is State.CLOSED:
            return
        self._terminate(error, by_peer=False)
        if self._protection is not None:
            code = error.code if error else ""
            self._control.append([wire.CLOSE, code, error.message if error else ""])
            self._probe = True

    def next_event(self) -> ev.Event | None:
        if not self._events and self._fetcher.received:
            self._flush_received()
        return self._events.popleft() if self._events else None

    def _emit(self, event: ev.Event) -> None:
        """Queue ``event`` after the blocks completed before it (order is kept: a
        consumer sees every block that arrived before, say, the connection ended)."""
        if self._fetcher.received:
            self._flush_received()
        self._events.append(event)

    def _emit_all(self, events: list[ev.Event]) -> None:
        for event in events:
            self._emit(event)

    def _flush_received(self) -> None:
        self._events.append(ev.BlocksReceived(self._fetcher.received))
        self._fetcher.received = []

    @property
    def stats(self) -> Counter[str]:
        """Datagrams and bytes each way, packets lost, and drops by reason."""
        out = Counter(self._drops)
        out["datagrams_received"] = self._rx_datagrams
        out["bytes_received"] = self._rx_bytes
        out["datagrams_sent"] = self._tx_datagrams
        out["bytes_sent"] = self._tx_bytes
        if self._lost_packets:
            out["packets_lost"] = self._lost_packets
        return out

    @property
    def blocks_outstanding(self) -> int:
        return self._fetcher.outstanding

    @property
    def bytes_in_flight(self) -> int:
        return self._recovery.cc.bytes_in_flight

    def datagrams_pending(self) -> bool:
        """Whether ``datagrams_to_send`` has anything queued (ignoring pacing)."""
        return bool(self._control or self._blocks or self._ack_pending)

    def _check_open(self) -> None:
        if self.state is State.CLOSED:
            raise LocalProtocolError("connection is closed")

    def _send_message(self, rid: int, message: m.Message) -> None:
        self._check_open()
        data = m.encode_message(rid, message)
        chunk = self.config.packet_size - limits.HEADER_SIZE - limits.AEAD_TAG_SIZE
        chunk -= MSG_FRAME_OVERHEAD
        count = max(1, -(-len(data) // chunk))
        msg_id, self._next_msg_id = self._next_msg_id, self._next_msg_id + 1
        for index in range(count):
            part = data[index * chunk : (index + 1) * chunk]
            self._control.append([wire.MSG, msg_id, index, count, part])

    # --- input ---------------------------------------------------------------------

    def receive_datagram(self, data: bytes, addr: object, now: float) -> None:
        """Feed one datagram; invalid ones are dropped and counted in ``stats``."""
        self._rx_datagrams += 1
        self._receive_one(data, now)

    def receive_datagrams(self, buffer: memoryview, size: int, segment: int, now: float) -> None:
        """Feed ``buffer[:size]``: datagrams of ``segment`` bytes each (the last may be
        shorter), as the kernel hands over a run it coalesced (UDP GRO). The effect is
        :meth:`receive_datagram`'s for each, in order."""
        self._rx_datagrams += -(-size // segment)
        self._receive_run(buffer, size, segment, now)

    def _receive_one(self, data: bytes, now: float) -> None:
        if self.state is State.CLOSED:
            return self._drop("closed")
        if len(data) > limits.MAX_PACKET_SIZE:
            return self._drop("oversized")
        if self._handshake is not None and self.state is State.HANDSHAKE:
            theirs = wire.foreign_version(data, self.local_cid)
            if theirs is not None:
                return self._terminate(
                    PeerError(
                        f"peer {self.peer_name} speaks peer protocol version {theirs}, this "
                        f"cofd version {limits.PROTOCOL_VERSION}: run the same cof release "
                        "on both sides"
                    )
                )
        try:
            kind = wire.packet_kind(data)
            if kind == wire.DATA:
                if len(data) < _MIN_DATA:
                    raise wire.WireError("bad DATA packet")
                if self.state is not State.ESTABLISHED or self._protection is None:
                    return self._drop("unauthenticated")
                return self._receive_run(memoryview(data), len(data), len(data), now)
            if self._handshake is not None and kind == wire.COOKIE:
                return self._receive_cookie(wire.CookiePacket.from_wire(data), now)
            if self._handshake is not None and kind == wire.RESPONSE:
                return self._receive_response(wire.ResponsePacket.from_wire(data), now)
        except wire.WireError:
            return self._drop("malformed")
        return self._drop("unexpected")

    def _drop(self, reason: str) -> None:
        self._drops[f"dropped_{reason}"] += 1

    def _receive_cookie(self, packet: wire.CookiePacket, now: float) -> None:
        if packet.receiver_cid != self.local_cid or self.state is not State.HANDSHAKE:
            return self._drop("unexpected")
        self._cookie = packet.cookie
        self._hs_next = now  # answer with the cookie right away

    def _receive_response(self, packet: wire.ResponsePacket, now: float) -> None:
        if packet.receiver_cid != self.local_cid or self.state is not State.HANDSHAKE:
            return self._drop("unexpected")
        assert self._handshake is not None
        try:
            keys = self._handshake.finish(packet)
        except wire.WireError:
            return self._drop("unauthenticated")
        self.remote_cid = packet.sender_cid
        self._handshake = None
        self._establish(self.peer_key, keys, now)
        self._control.append([wire.PING])  # confirms the handshake to the server

    def _receive_run(self, buffer: memoryview, size: int, segment: int, now: float) -> None:
        """The receiving hot path: nearly every datagram of a transfer is a DATA packet
        carrying one block fragment. Those are opened where they lie in ``buffer`` (no
        copy of each datagram first) and their fragments handed to the fetcher in one
        call per run, not one per datagram. Anything else goes through
        :meth:`_receive_one` (and :meth:`_receive_payload`), in order with the
        fragments around it."""
        fragments: list[wire.Fragment] = []
        unpack_header = _DATA_HEADER.unpack_from
        replay, local_cid = self._replay, self.local_cid
        opened = 0  # bytes of the datagrams that authenticated
        for at in range(0, size, segment):
            end = min(at + segment, size)
            protection = self._protection
            if (
                buffer[at] != _DATA_TYPE
                or not _MIN_DATA <= end - at <= limits.MAX_PACKET_SIZE
                or self.state is not State.ESTABLISHED
                or protection is None
            ):
                fragments = self._take_fragments(fragments, now)
                self._receive_one(bytes(buffer[at:end]), now)
                continue
            _, cid, pn = unpack_header(buffer, at)
            if cid != local_cid:
                self._drop("unauthenticated")
                continue
            if pn <= replay.largest and not replay.is_fresh(pn):
                self._drop("replayed")
                continue
            payload = protection.open_at(buffer, at, end, pn)
            if payload is None:
                self._drop("unauthenticated")
                continue
            replay.mark(pn)
            opened += end - at
            try:
                block = wire.decode_block_frame(payload)
            except wire.WireError:
                block = None  # _receive_payload ends the session over it
            if block is None:  # frames (or a malformed fragment): in order, after these
                fragments = self._take_fragments(fragments, now)
                self._receive_payload(pn, payload, now)
                continue
            fragments.append(block)
            self._record_received(pn, True, now)
        if opened:
            self.confirmed = True
            self._last_rx = self._last_activity = now
            self._rx_bytes += opened
        self._take_fragments(fragments, now)

    def _take_fragments(self, fragments: list[wire.Fragment], now: float) -> list[wire.Fragment]:
        """Hand ``fragments`` to the fetcher; an empty list to collect the next ones."""
        if fragments and self.state is not State.CLOSED:
            self._emit_all(self._fetcher.on_fragments(fragments, now))
        return []

    def _receive_payload(self, pn: int, payload: bytes, now: float) -> None:
        """An opened DATA payload that is not a well-formed block fragment."""
        self.confirmed = True
        self._last_rx = self._last_activity = now
        try:
            wire.decode_block_frame(payload)  # a malformed fragment raises its WireError
            frames = wire.decode_frames(payload)
            eliciting = any(f[0] != wire.ACK for f in frames)
            self._record_received(pn, eliciting, now)
            for frame in frames:
                self._handle_frame(frame, now)
        except ProtocolError as exc:  # authenticated but malformed: a session violation
            self.close(ProtocolError(f"peer {self.peer_name} violated the protocol: {exc}"))

    def _record_received(self, pn: int, eliciting: bool, now: float) -> None:
        ranges = self._recv_ranges
        if ranges and pn == ranges[0][0] + 1:  # in order: the common case
            ranges[0][0] = pn
            self._largest_rx_time = now
        else:
            if not ranges or pn > ranges[0][0]:
                self._largest_rx_time = now
            if ranges and eliciting:
                self._ack_now = True  # a gap or a late packet: tell the sender soon
            insert_range(ranges, pn)
            del ranges[limits.MAX_ACK_RANGES :]
        if eliciting:
            self._ack_pending += 1
            if self._ack_at is None:
                self._ack_at = now + limits.MAX_ACK_DELAY

    def _handle_frame(self, frame: wire.Frame, now: float) -> None:
        kind = frame[0]
        if kind == wire.ACK:
            self._on_ack(frame, now)
        elif kind == wire.MSG:
            self._msg_progress = now
            data = self._assembler.add(frame[1], frame[2], frame[3], frame[4])
            if data is not None:
                self._ack_now = True  # a whole message: no delayed-ACK round trip
                self._on_message(*m.decode_message(data))
        elif kind == wire.CLOSE:
            error = error_from_wire(frame[1], f"peer {self.peer_name}: {frame[2]}")
            self._terminate(error if frame[1] else None, by_peer=True)

    def _on_ack(self, frame: wire.Frame, now: float) -> None:
        ranges = wire.parse_ack_ranges(frame[2])
        if ranges[0][0] >= self._next_pn:
            raise ProtocolError("ACK for a packet never sent")
        for pn in self._skipped:
            if any(low <= pn <= high for high, low in ranges):
                raise ProtocolError(f"ACK for packet {pn}, which was never sent")
        _, lost = self._recovery.on_ack(ranges, frame[1] / 1e6, now)
        self._requeue(lost)

    def _requeue(self, lost: list[SentPacket]) -> None:
        for packet in reversed(lost):
            self._lost_packets += 1
            for frame in reversed(packet.frames):
                if isinstance(frame, bytes):
                    self._blocks.appendleft(frame)
                else:
                    self._control.appendleft(frame)

    def _on_message(self, rid: int, message: m.Message) -> None:
        if isinstance(message, m.GetBlocks):
            return self._on_get_blocks(message)
        if isinstance(message, m.BlocksMissing):
            self._emit_all(self._fetcher.on_missing(message.slots))
        elif message.KIND in m.REQUEST_KINDS:
            self._emit(ev.RequestReceived(rid, message))
        elif self._requests.pop(rid, None) is not None:
            if isinstance(message, m.ErrorReply):
                error = error_from_wire(message.code, f"peer {self.peer_name}: {message.message}")
                self._emit(ev.RequestFailed(rid, error))
            else:
                self._emit(ev.ResponseReceived(rid, message))

    def _on_get_blocks(self, message: m.GetBlocks) -> None:
        room = max(0, limits.MAX_SERVED_BLOCKS - self._served_pending)
        slots = [(message.first_slot + i) % limits.SLOT_SPACE for i in range(len(message.ids))]
        accepted = tuple(zip(slots[:room], message.ids[:room], strict=True))
        self._served_pending += len(accepted)
        if accepted:
            self._emit(ev.BlocksRequested(accepted))
        if slots[room:]:
            self._send_message(0, m.BlocksMissing(tuple(slots[room:])))

    # --- output --------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Everything that may leave now, within the congestion window and pacing."""
        if self._handshake is not None:
            return self._handshake_datagrams(now)
        if self._protection is None:
            return []
        if self.state is State.ESTABLISHED:
            for request in self._fetcher.next_requests(now):
                self._send_message(0, request)
        out: list[bytes] = []
        while True:
            while (packet := self._build_packet(now)) is not None:
                out.append(packet)
            if not self._blocks:
                if not self._control:  # nothing to send: rate samples undercount now
                    self._recovery.cc.on_app_limited()
                return out
            if self._control:
                return out
            # Only block fragments are left: as many as the window and pacer allow.
            quota = min(self._block_quota(now), len(self._blocks))
            if quota <= 0:
                return out
            out += self._seal_blocks(quota, now)
            if not self._blocks:  # sent them all (or the session just ended)
                return out

    def _handshake_datagrams(self, now: float) -> list[bytes]:
        if self.state is not State.HANDSHAKE or now < self._hs_next:
            return []
        assert self._handshake is not None
        if self._hs_started is None:
            self._hs_started = self._last_activity = now
        self._hs_attempts += 1
        # Backoff from the initial RTT, but never more than HANDSHAKE_MAX_INTERVAL
        # apart: the whole handshake gets one timeout, and a lossy link needs many
        # tries in it (an INIT is ~150 bytes; a silent address costs ~10 of them).
        interval = min(
            self.config.timeout,
            limits.HANDSHAKE_MAX_INTERVAL,
            2 * self.config.initial_rtt * 2**self._hs_attempts,
        )
        self._hs_next = now + interval
        return [self._handshake.init_packet(self._cookie)]

    def _build_packet(self, now: float) -> bytes | None:
        pending = self._ack_pending
        ack_due = pending > 0 and (
            pending >= ACK_EVERY or self._ack_now or now >= (self._ack_at or now)
        )
        if self._control:
            may_send = self._may_send(now)
            frames: list[wire.Frame] = []
            if ack_due or (pending and may_send):  # piggyback on a message we send anyway
                frames.append(self._ack_frame(now))
            if may_send:
                self._fill(frames)
            return self._seal(frames, now) if frames else None
        if ack_due:
            return self._seal([self._ack_frame(now)], now)
        return None  # block fragments: see datagrams_to_send

    def _fill(self, frames: list[wire.Frame]) -> None:
        room = self.config.packet_size - limits.HEADER_SIZE - limits.AEAD_TAG_SIZE - 3
        used = sum(len(codec.pack(f)) for f in frames)
        while self._control and len(frames) < limits.MAX_FRAMES_PER_PACKET:
            size = len(codec.pack(self._control[0]))
            if used + size > room:
                break
            frames.append(self._control.popleft())
            used += size

    def _block_quota(self, now: float) -> int:
        """How many full-size packets may leave now (a probe: one, whatever the window)."""
        if self._probe:
            return 1
        quota, delay = self._recovery.cc.send_quota(
            self.config.packet_size, now, self._recovery.rtt.smoothed
        )
        self._pacing_at = now + delay if delay > 0 else None
        return quota

    def _may_send(self, now: float) -> bool:
        if self._probe:
            return True
        cc = self._recovery.cc
        if cc.available() < self.config.packet_size:
            return False
        delay = cc.pacing_delay(self.config.packet_size, now, self._recovery.rtt.smoothed)
        self._pacing_at = now + delay if delay > 0 else None
        return delay == 0

    def _ack_frame(self, now: float) -> wire.Frame:
        self._ack_pending = 0
        self._ack_at = None
        self._ack_now = False
        delay_us = max(0, int((now - self._largest_rx_time) * 1e6))
        return [wire.ACK, delay_us, [list(r) for r in self._recv_ranges]]

    def _skip_after(self, pn: int) -> int:
        """The packet number after ``pn`` to leave out (see SKIP_MIN)."""
        return pn + SKIP_MIN + int.from_bytes(self._rng(2), "big") % SKIP_SPREAD

    def _first_pn(self) -> int:
        """The next packet number to use, leaving one out when its turn has come."""
        pn = self._next_pn
        if pn >= self._next_skip and pn < limits.MAX_PACKET_NUMBER:
            self._skipped.append(pn)
            pn += 1
            self._next_skip = self._skip_after(pn)
        return pn

    def _seal(self, frames: list[wire.Frame], now: float) -> bytes:
        assert self._protection is not None
        pn = self._first_pn()
        self._next_pn = pn + 1
        header = wire.data_header(self.remote_cid, pn)
        datagram = self._protection.seal(header, pn, wire.encode_frames(frames))
        eliciting = any(f[0] != wire.ACK for f in frames)
        keep = [f for f in frames if f[0] == wire.MSG]  # lost messages are sent again
        self._recovery.on_packet_sent(SentPacket(pn, now, len(datagram), eliciting, keep))
        self._sent(pn, len(datagram), eliciting, now)
        return datagram

    def _seal_blocks(self, count: int, now: float) -> list[bytes]:
        """``_seal`` for ``count`` queued block fragments: the hot path of a transfer,
        so the burst is stamped and registered with recovery once, not per packet."""
        assert self._protection is not None and count > 0
        first = self._first_pn()
        count = min(count, limits.MAX_PACKET_NUMBER + 1 - first)
        blocks, pack, cid = self._blocks, _DATA_HEADER.pack, self.remote_cid
        seal = self._protection.seal
        stamp = self._recovery.cc.stamp(now)
        out: list[bytes] = []
        packets: list[SentPacket] = []
        size = 0
        for pn in range(first, first + count):
            payload = blocks.popleft()
            header = pack(_DATA_TYPE, cid, pn)
            datagram = seal(header, pn, payload)
            out.append(datagram)
            packets.append(SentPacket(pn, now, len(datagram), True, [payload], *stamp))
            size += len(datagram)
        self._next_pn = first + count
        self._recovery.on_burst_sent(packets)
        self._sent(first + count - 1, size, True, now, count)
        return out

    def _sent(self, pn: int, size: int, eliciting: bool, now: float, count: int = 1) -> None:
        """Bookkeeping after sending ``count`` packets up to number ``pn``, ``size`` bytes."""
        self._probe = False
        if eliciting:
            self._last_activity = now
            if self._unsent_requests:
                self._unsent_requests = 0
                for rid, since in self._requests.items():
                    if since < 0:
                        self._requests[rid] = now
        self._tx_datagrams += count
        self._tx_bytes += size
        if pn >= limits.MAX_PACKET_NUMBER:
            self._terminate(PeerError(f"session with {self.peer_name} used up its packet numbers"))

    # --- timers --------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The earliest time at which :meth:`handle_timer` must be called, or None."""
        if self.state is State.CLOSED:
            return None
        if self._handshake is not None:
            started = self._hs_next if self._hs_started is None else self._hs_started
            return min(self._hs_next, started + self.config.handshake_budget)
        candidates = [
            self._recovery.timer(),
            self._ack_at if self._ack_pending else None,
            self._pacing_at if (self._control or self._blocks) else None,
            self._fetcher.timer(),
            self._last_activity + self.config.idle_timeout,
            self._last_rx + self.config.budget if self._awaiting_peer() else None,
            *(
                max(s, self._msg_progress) + self.config.budget
                for s in self._requests.values()
                if s >= 0
            ),
        ]
        return min(t for t in candidates if t is not None)

    def _awaiting_peer(self) -> bool:
        return bool(self._recovery.sent) or bool(self._requests) or self._fetcher.outstanding > 0

    def handle_timer(self, now: float) -> None:
        """Run whatever is due: loss detection, probes, retries, give-ups, idle close."""
        if self.state is State.CLOSED:
            return
        if self._handshake is not None:
            if (
                self._hs_started is not None
                and now >= self._hs_started + self.config.handshake_budget
            ):
                self._terminate(
                    self._timeout_error(
                        "did not answer the handshake", self.config.handshake_budget
                    )
                )
            return
        recovery_at = self._recovery.timer()
        if recovery_at is not None and now >= recovery_at:
            lost, probe = self._recovery.on_timeout(now)
            self._requeue(lost)
            if probe:
                self._control.append([wire.PING])
                self._probe = True
        if self._pacing_at is not None and now >= self._pacing_at:
            self._pacing_at = None
        fetch_at = self._fetcher.timer()
        if fetch_at is not None and now >= fetch_at:
            self._emit_all(self._fetcher.on_timer(now))
        self._expire_requests(now)
        self._check_liveness(now)

    def _expire_requests(self, now: float) -> None:
        budget = self.config.budget
        for rid, since in list(self._requests.items()):
            if since >= 0 and now >= max(since, self._msg_progress) + budget:
                del self._requests[rid]
                error = self._timeout_error(f"did not answer request {rid}")
                self._emit(ev.RequestFailed(rid, error))

    def _check_liveness(self, now: float) -> None:
        if self._awaiting_peer() and now >= self._last_rx + self.config.budget:
            self._terminate(self._timeout_error("stopped responding"))
        elif now >= self._last_activity + self.config.idle_timeout:
            self.close()

    def _timeout_error(self, what: str, budget: float | None = None) -> PeerTimeoutError:
        cfg = self.config
        return PeerTimeoutError(
            f"peer {self.peer_name} {what} within {budget or cfg.budget:g} s "
            f"(timeout_ms={cfg.timeout_ms}, max_retries={cfg.max_retries})"
        )

    def _terminate(self, error: CofError | None, by_peer: bool = False) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        failure = (
            error
            if isinstance(error, PeerError)
            else PeerError(
                f"connection to peer {self.peer_name} closed" + (f": {error}" if error else "")
            )
        )
        for rid in self._requests:
            self._emit(ev.RequestFailed(rid, failure))
        self._requests.clear()
        self._emit_all(self._fetcher.fail_all(failure))
        self._recovery.discard_all()
        self._blocks.clear()
        self._control.clear()
        self._ack_pending = 0
        self._emit(ev.ConnectionTerminated(error, by_peer))
