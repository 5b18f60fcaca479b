"""Loss detection after RFC 9002 (congestion control lives in :mod:`.congestion`).

Pure bookkeeping: the connection tells :class:`Recovery` what it sent and what the
peer acknowledged, always with ``now``; it answers which packets are lost, when its
timer fires, and (through ``cc``) how many bytes may be sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from protocol.peer import limits
from protocol.peer.congestion import CongestionControl

PACKET_THRESHOLD = 3  # RFC 9002 kPacketThreshold
TIME_THRESHOLD = 9 / 8  # RFC 9002 kTimeThreshold
MAX_PTO_BACKOFF_EXPONENT = 10  # probes never wait more than 1024 PTOs


@dataclass(slots=True)
class SentPacket:
    """A packet we sent and still track: its frames are resent if it is lost."""

    number: int
    time_sent: float
    size: int
    ack_eliciting: bool
    frames: list[Any] = field(default_factory=list)
    # stamped by CongestionControl.on_sent for delivery-rate samples
    delivered: int = 0
    delivered_time: float = 0.0
    first_sent_time: float = 0.0
    app_limited: bool = False


class RttEstimator:
    """Smoothed RTT and variance (RFC 9002 section 5)."""

    def __init__(self, initial_rtt: float = limits.INITIAL_RTT) -> None:
        self.latest = 0.0
        self.min = 0.0
        self.smoothed = initial_rtt
        self.variance = initial_rtt / 2
        self._has_sample = False

    def update(self, sample: float, ack_delay: float) -> None:
        self.latest = sample
        if not self._has_sample:
            self._has_sample = True
            self.min = self.smoothed = sample
            self.variance = sample / 2
            return
        self.min = min(self.min, sample)
        adjusted = sample - ack_delay if sample - ack_delay >= self.min else sample
        self.variance = 0.75 * self.variance + 0.25 * abs(self.smoothed - adjusted)
        self.smoothed = 0.875 * self.smoothed + 0.125 * adjusted

    def pto(self) -> float:
        """Probe timeout before backoff (RFC 9002 section 6.2.1)."""
        spread = max(4 * self.variance, limits.TIMER_GRANULARITY)
        return self.smoothed + spread + limits.MAX_ACK_DELAY

    def loss_delay(self) -> float:
        base = max(self.latest, self.smoothed) * TIME_THRESHOLD
        return max(base, limits.TIMER_GRANULARITY)


class Recovery:
    """Tracks sent packets; detects loss by packet and time thresholds; PTO.

    Work per ACK is proportional to what it newly acknowledges or declares lost,
    never to the number of packets in flight: ``sent`` is kept in packet-number
    order (a dict in insertion order plus a deque of numbers for the oldest one),
    ACK ranges are clamped to the oldest outstanding number, and loss detection scans
    from the oldest packet and stops at the first one that is not (yet) lost.
    """

    def __init__(self, max_datagram: int, initial_rtt: float = limits.INITIAL_RTT) -> None:
        self.rtt = RttEstimator(initial_rtt)
        self.cc = CongestionControl(max_datagram)
        self.sent: dict[int, SentPacket] = {}
        self._order: deque[int] = deque()  # numbers in ``sent`` (and some gone), ascending
        self.largest_acked = -1
        self.pto_count = 0
        self._loss_time: float | None = None
        self._last_eliciting_sent = 0.0

    def on_packet_sent(self, packet: SentPacket) -> None:
        if packet.ack_eliciting:
            self.sent[packet.number] = packet
            self._order.append(packet.number)
            self.cc.on_sent(packet)
            self._last_eliciting_sent = packet.time_sent

    def on_burst_sent(self, packets: list[SentPacket]) -> None:
        """:meth:`on_packet_sent` for ack-eliciting packets stamped by ``cc.stamp``."""
        sent = self.sent
        size = 0
        for packet in packets:
            sent[packet.number] = packet
            size += packet.size
        self._order.extend(p.number for p in packets)
        self.cc.on_sent_bytes(size)
        self._last_eliciting_sent = packets[-1].time_sent

    def _oldest(self) -> int | None:
        order, sent = self._order, self.sent
        while order and order[0] not in sent:
            order.popleft()
        return order[0] if order else None

    def on_ack(
        self, ranges: list[tuple[int, int]], ack_delay: float, now: float
    ) -> tuple[list[SentPacket], list[SentPacket]]:
        """Process an ACK frame; return ``(newly_acked, lost)`` packets."""
        oldest = self._oldest()
        if oldest is None:
            return [], []
        sent = self.sent
        acked: list[SentPacket] = []
        for high, low in ranges:
            if high < oldest:
                break  # ranges descend: the rest acknowledge only forgotten packets
            for pn in range(high, max(low, oldest) - 1, -1):
                packet = sent.pop(pn, None)
                if packet is not None:
                    acked.append(packet)
        if not acked:
            return [], []
        largest = acked[0]  # the first range's top is the largest acknowledged
        if largest.number > self.largest_acked:
            self.largest_acked = largest.number
            if largest.number == ranges[0][0]:
                self.rtt.update(now - largest.time_sent, ack_delay)
        self.cc.on_ack(acked, self.rtt.latest, now)
        self.pto_count = 0
        return acked, self.detect_loss(now)

    def detect_loss(self, now: float) -> list[SentPacket]:
        """Declare lost what is 3 packets or 9/8 RTT behind the largest acknowledged.

        Packets are in sending order, so the first one that is not lost ends the scan:
        every later one was sent later and has a higher number.
        """
        self._loss_time = None
        delay = self.rtt.loss_delay()
        lost: list[SentPacket] = []
        order, sent = self._order, self.sent
        threshold = self.largest_acked - PACKET_THRESHOLD
        while order:
            pn = order[0]
            packet = sent.get(pn)
            if packet is None:
                order.popleft()
                continue
            if pn > self.largest_acked:
                break
            deadline = packet.time_sent + delay
            if now >= deadline or pn <= threshold:
                del sent[pn]
                order.popleft()
                lost.append(packet)
            else:
                self._loss_time = deadline
                break
        if lost:
            self.cc.on_lost(lost, now)
        return lost

    def timer(self) -> float | None:
        """When :meth:`on_timeout` must run, or None when nothing is outstanding."""
        if self._loss_time is not None:
            return self._loss_time
        if not self.sent:
            return None
        backoff = float(1 << min(self.pto_count, MAX_PTO_BACKOFF_EXPONENT))
        return self._last_eliciting_sent + self.rtt.pto() * backoff

    def on_timeout(self, now: float) -> tuple[list[SentPacket], bool]:
        """Return ``(lost, send_probe)``; a PTO doubles the next probe interval."""
        if self._loss_time is not None and now >= self._loss_time:
            return self.detect_loss(now), False
        self.pto_count += 1
        return [], True

    def discard_all(self) -> None:
        for packet in self.sent.values():
            self.cc.on_discarded(packet)
        self.sent.clear()
        self._order.clear()
        self._loss_time = None


def insert_range(ranges: list[list[int]], pn: int) -> None:
    """Add ``pn`` to descending disjoint ``[high, low]`` ranges, merging neighbours."""
    for i, (high, low) in enumerate(ranges):
        if pn > high + 1:
            ranges.insert(i, [pn, pn])
            return
        if pn == high + 1:
            ranges[i][0] = pn
            if i > 0 and ranges[i - 1][1] == pn + 1:
                ranges[i - 1][1] = low
                del ranges[i]
            return
        if pn >= low:
            return
        if pn == low - 1:
            ranges[i][1] = pn
            if i + 1 < len(ranges) and ranges[i + 1][0] == pn - 1:
                ranges[i][1] = ranges[i + 1][1]
                del ranges[i + 1]
            return
    ranges.append([pn, pn])
