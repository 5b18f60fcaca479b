"""An in-process network for protocol tests: seeded loss, duplication, reordering, delay.

No sockets, no clock: a discrete-event loop moves datagrams between a client
``Connection`` and a server ``Listener`` and fires their timers at the times they ask.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import blake3

from protocol.peer import crypto
from protocol.peer import events as ev
from protocol.peer import messages as m
from protocol.peer.connection import Connection, PeerConfig
from protocol.peer.listener import Listener

CLIENT_ADDR = ("10.0.0.1", 40000)
SERVER_ADDR = ("10.0.0.2", 9418)


def seeded_rng(seed: int) -> crypto.Rng:
    gen = random.Random(seed)
    return gen.randbytes


def make_blocks(count: int, seed: int, size: int = 4096) -> dict[m.BlockId, bytes]:
    gen = random.Random(seed)
    blocks = {}
    for _ in range(count):
        data = gen.randbytes(size)
        blocks[m.BlockId(blake3.blake3(data).digest())] = data
    return blocks


@dataclass
class Link:
    """Impairments applied to every datagram, in both directions."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.001
    blackhole_after: float | None = None  # drop everything sent at or after this time
    # A bottleneck: datagrams leave each sender at most ``rate`` bytes/s through a FIFO
    # holding ``queue_bytes`` (tail drop beyond it); None: infinitely fast.
    rate: float | None = None
    queue_bytes: int = 256 * 1024


@dataclass
class SimNet:
    link: Link
    seed: int
    sent: list[tuple[float, object, bytes]] = field(default_factory=list)
    _queue: list[tuple[float, int, object, object, bytes]] = field(default_factory=list)
    _seq: int = 0
    _free_at: dict[object, float] = field(default_factory=dict)  # bottleneck idle, per sender
    queue_drops: int = 0

    def __post_init__(self) -> None:
        self._rand = random.Random(self.seed)

    def send(self, src: object, dst: object, data: bytes, now: float) -> None:
        self.sent.append((now, src, data))
        link = self.link
        if link.blackhole_after is not None and now >= link.blackhole_after:
            return
        departs = now
        if link.rate is not None:
            free_at = max(now, self._free_at.get(src, now))
            if (free_at - now) * link.rate + len(data) > link.queue_bytes:
                self.queue_drops += 1
                return
            departs = self._free_at[src] = free_at + len(data) / link.rate
        copies = 2 if self._rand.random() < link.duplicate else 1
        for _ in range(copies):
            if self._rand.random() < link.loss:
                continue
            delay = departs - now + link.delay
            if self._rand.random() < link.reorder:
                delay += self._rand.uniform(0, 4 * link.delay)
            self._seq += 1
            heapq.heappush(self._queue, (now + delay, self._seq, src, dst, data))

    def next_time(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def pop_due(self, now: float) -> list[tuple[object, object, bytes]]:
        out = []
        while self._queue and self._queue[0][0] <= now:
            _, _, src, dst, data = heapq.heappop(self._queue)
            out.append((src, dst, data))
        return out


class BlockServer:
    """A minimal sync-engine stand-in on the server side: serves blocks and refs."""

    def __init__(self, blocks: dict[m.BlockId, bytes], corrupt: set[m.BlockId] | None = None):
        self.blocks = blocks
        self.corrupt = corrupt or set()
        self.requests: list[m.Message] = []

    def handle(self, conn: Connection, event: ev.Event) -> None:
        if isinstance(event, ev.BlocksRequested):
            missing = []
            for slot, block_id in event.blocks:
                data = self.blocks.get(block_id)
                if data is None:
                    missing.append(slot)
                elif block_id in self.corrupt:
                    conn.send_block(slot, bytes([data[0] ^ 1]) + data[1:])
                else:
                    conn.send_block(slot, data)
            if missing:
                conn.blocks_missing(missing)
        elif isinstance(event, ev.RequestReceived):
            self.requests.append(event.message)
            conn.send_response(event.request_id, self.answer(event.message))

    def answer(self, message: m.Message) -> m.Message:
        if isinstance(message, m.ListRefs):
            return m.Refs((("main", bytes(32)),), "main")
        if isinstance(message, m.Want):
            ids = tuple(self.blocks)
            return m.Lacking(ids, 0, True)
        return m.ErrorReply("usage", "unsupported")


class Harness:
    """A client and a server joined by a :class:`SimNet`; ``run`` drives both."""

    def __init__(
        self,
        link: Link | None = None,
        seed: int = 0,
        config: PeerConfig | None = None,
        server: BlockServer | None = None,
    ) -> None:
        self.net = SimNet(link or Link(), seed)
        self.config = config or PeerConfig()
        self.server_identity = crypto.Identity.generate(seeded_rng(seed + 1))
        self.client_identity = crypto.Identity.generate(seeded_rng(seed + 2))
        self.listener = Listener(self.server_identity, config=self.config, rng=seeded_rng(seed + 3))
        self.client = Connection.client(
            self.client_identity,
            self.server_identity.public,
            SERVER_ADDR,
            config=self.config,
            peer_name="cof://server/repo",
            rng=seeded_rng(seed + 4),
        )
        self.server = server or BlockServer({})
        self.client_events: list[tuple[float, ev.Event]] = []
        self.server_events: list[ev.Event] = []
        self.now = 0.0
        self.wakeups = 0

    def flush(self) -> None:
        for data in self.client.datagrams_to_send(self.now):
            self.net.send(CLIENT_ADDR, SERVER_ADDR, data, self.now)
        for data, addr in self.listener.datagrams_to_send(self.now):
            self.net.send(SERVER_ADDR, addr, data, self.now)

    def drain(self) -> None:
        while (event := self.client.next_event()) is not None:
            self.client_events.append((self.now, event))
        while (item := self.listener.next_event()) is not None:
            conn, event = item
            self.server_events.append(event)
            self.server.handle(conn, event)

    def step(self, limit: float = float("inf")) -> bool:
        """Advance to the next delivery or timer; False when nothing happens before limit."""
        self.drain()
        self.flush()
        times = [self.net.next_time(), self.client.get_timer(), self.listener.get_timer()]
        pending = [t for t in times if t is not None]
        if not pending:
            return False
        nxt = min(pending)
        if nxt > limit:
            self.now = max(self.now, limit)
            return False
        assert nxt >= self.now - 1e-9, "a timer in the past would spin"
        self.now = max(self.now, nxt)
        self.wakeups += 1
        for src, dst, data in self.net.pop_due(self.now):
            if dst == SERVER_ADDR:
                self.listener.receive_datagram(data, src, self.now)
            else:
                self.client.receive_datagram(data, src, self.now)
        timer = self.client.get_timer()
        if timer is not None and timer <= self.now:
            self.client.handle_timer(self.now)
        timer = self.listener.get_timer()
        if timer is not None and timer <= self.now:
            self.listener.handle_timer(self.now)
        return True

    def run(
        self, until: Callable[[], bool], limit: float = 120.0, max_steps: int = 500_000
    ) -> None:
        for _ in range(max_steps):
            if until() or not self.step(limit):
                self.drain()
                return
        raise AssertionError("simulation did not settle")

    def events_of(self, kind: type) -> list:
        return [e for _, e in self.client_events if isinstance(e, kind)]

    def blocks_received(self) -> dict[bytes, bytes]:
        """Every block the client received, by id (from its BlocksReceived events)."""
        got: dict[bytes, bytes] = {}
        for event in self.events_of(ev.BlocksReceived):
            for block_id, data in event.blocks:
                assert block_id not in got, "a block delivered twice"
                got[block_id] = data
        return got
