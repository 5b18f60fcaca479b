"""Loss detection: the incremental bookkeeping matches a naive reference exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.peer.recovery import PACKET_THRESHOLD, Recovery, RttEstimator, SentPacket


class NaiveRecovery:
    """RFC 9002 loss detection written the obvious way: every ACK scans everything."""

    def __init__(self) -> None:
        self.rtt = RttEstimator()
        self.sent: dict[int, SentPacket] = {}
        self.largest_acked = -1
        self.loss_time: float | None = None

    def on_ack(self, ranges: list[tuple[int, int]], now: float) -> tuple[set[int], set[int]]:
        acked = [self.sent.pop(pn) for high, low in ranges for pn in range(low, high + 1)
                 if pn in self.sent]  # fmt: skip
        if not acked:
            return set(), set()
        largest = max(acked, key=lambda p: p.number)
        if largest.number > self.largest_acked:
            self.largest_acked = largest.number
            if largest.number == ranges[0][0]:
                self.rtt.update(now - largest.time_sent, 0.0)
        return {p.number for p in acked}, self.detect_loss(now)

    def detect_loss(self, now: float) -> set[int]:
        self.loss_time = None
        delay = self.rtt.loss_delay()
        lost = set()
        for pn, packet in list(self.sent.items()):
            if pn > self.largest_acked:
                continue
            deadline = packet.time_sent + delay
            if now >= deadline or self.largest_acked - pn >= PACKET_THRESHOLD:
                lost.add(self.sent.pop(pn).number)
            else:
                self.loss_time = min(self.loss_time or deadline, deadline)
        return lost


def _ranges(numbers: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for pn in sorted(numbers, reverse=True):
        if out and out[-1][1] == pn + 1:
            out[-1] = (out[-1][0], pn)
        else:
            out.append((pn, pn))
    return out[:32]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.sets(st.integers(0, 60), max_size=30)),
                min_size=1, max_size=25))  # fmt: skip
def test_incremental_loss_detection_matches_the_naive_scan(
    steps: list[tuple[int, set[int]]],
) -> None:
    fast, slow = Recovery(1400), NaiveRecovery()
    now, next_pn, received = 0.0, 0, set()
    for burst, picks in steps:
        for _ in range(burst):  # send a burst, 0.1 ms apart
            now += 0.0001
            fast.on_packet_sent(SentPacket(next_pn, now, 1400, True))
            slow.sent[next_pn] = SentPacket(next_pn, now, 1400, True)
            next_pn += 1
        now += 0.002
        received |= {next_pn - 1 - p for p in picks if p < next_pn}  # recent ones arrive
        if not received:
            continue
        ranges = _ranges(received)
        acked, lost = fast.on_ack(ranges, 0.0, now)
        want_acked, want_lost = slow.on_ack(ranges, now)
        assert {p.number for p in acked} == want_acked
        assert {p.number for p in lost} == want_lost
        assert set(fast.sent) == set(slow.sent)
        assert fast.timer() == slow.loss_time or (slow.loss_time is None and fast.sent)


class CountingDict(dict):  # type: ignore[type-arg]
    """Counts lookups, and elements visited by whole-dict scans."""

    lookups = 0
    scanned = 0

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return super().get(key, default)

    def pop(self, key, *default):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return super().pop(key, *default)

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        return super().__contains__(key)

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.scanned += len(self)
        return super().__iter__()

    def items(self):  # type: ignore[no-untyped-def]
        self.scanned += len(self)
        return super().items()


def test_ack_work_does_not_grow_with_packets_in_flight() -> None:
    """5000 packets in flight, cumulative ACK ranges from packet 0 (as receivers send
    them): each ACK costs about what it acknowledges, not what is outstanding."""
    recovery = Recovery(1400)
    recovery.sent = sent = CountingDict()
    total, window = 50_000, 5_000
    for pn in range(total):
        recovery.on_packet_sent(SentPacket(pn, pn * 1e-6, 1400, True))
        if pn >= window and pn % 10 == 0:
            newest = pn - window
            acked, lost = recovery.on_ack([(newest, 0)], 0.0, pn * 1e-6)
            assert len(acked) == (10 if newest else 1) and not lost
    assert sent.scanned == 0
    assert sent.lookups < 5 * total
