"""Loss detection and congestion control after RFC 9002, plus a pacer.

Pure bookkeeping: the connection tells :class:`Recovery` what it sent and what the
peer acknowledged, always with ``now``; it answers which packets are lost, when its
timer fires, and how many bytes may be sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from protocol.peer import limits

PACKET_THRESHOLD = 3  # RFC 9002 kPacketThreshold
TIME_THRESHOLD = 9 / 8  # RFC 9002 kTimeThreshold
INITIAL_WINDOW_PACKETS = 10  # RFC 9002 kInitialWindow
MINIMUM_WINDOW_PACKETS = 2  # RFC 9002 kMinimumWindow
LOSS_REDUCTION = 0.5  # NewReno multiplicative decrease
PACING_GAIN = 1.25  # RFC 9002 section 7.7: pace slightly faster than cwnd/srtt
PACING_BURST_PACKETS = 32  # packets that may leave back to back (one GSO send)
MAX_PTO_BACKOFF_EXPONENT = 10  # probes never wait more than 1024 PTOs


@dataclass(slots=True)
class SentPacket:
    """A packet we sent and still track: its frames are resent if it is lost."""

    number: int
    time_sent: float
    size: int
    ack_eliciting: bool
    frames: list[Any] = field(default_factory=list)


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


class CongestionControl:
    """NewReno window in bytes (RFC 9002 section 7) with a token-bucket pacer."""

    def __init__(self, max_datagram: int) -> None:
        self.max_datagram = max_datagram
        self.window = INITIAL_WINDOW_PACKETS * max_datagram
        self.ssthresh = float("inf")
        self.bytes_in_flight = 0
        self._recovery_start = -1.0
        self._acked_in_ca = 0
        self._tokens = float(PACING_BURST_PACKETS * max_datagram)
        self._last_refill = 0.0

    def available(self) -> int:
        return max(0, self.window - self.bytes_in_flight)

    def on_sent(self, size: int, now: float) -> None:
        self.bytes_in_flight += size
        self._tokens -= size

    def on_acked(self, packet: SentPacket) -> None:
        self.bytes_in_flight -= packet.size
        if packet.time_sent <= self._recovery_start:
            return
        if self.window < self.ssthresh:
            self.window += packet.size
        else:
            self._acked_in_ca += packet.size
            if self._acked_in_ca >= self.window:
                self._acked_in_ca -= self.window
                self.window += self.max_datagram
        self.window = min(self.window, limits.MAX_CWND_BYTES)

    def on_lost(self, packets: list[SentPacket], now: float) -> None:
        for packet in packets:
            self.bytes_in_flight -= packet.size
        newest = max(p.time_sent for p in packets)
        if newest > self._recovery_start:  # one reduction per round trip
            self._recovery_start = now
            self.window = max(
                int(self.window * LOSS_REDUCTION), MINIMUM_WINDOW_PACKETS * self.max_datagram
            )
            self.ssthresh = self.window
            self._acked_in_ca = 0

    def on_discarded(self, packet: SentPacket) -> None:
        self.bytes_in_flight -= packet.size

    def send_quota(self, size: int, now: float, smoothed_rtt: float) -> tuple[int, float]:
        """``(packets, 0)``: how many packets of ``size`` may leave now, or ``(0, wait)``.

        The same rule as :meth:`pacing_delay` applied packet after packet at one
        ``now``: a packet may leave when its wait would be under the timer granularity.
        A full window gives ``(0, 0.0)``: only an ACK opens it, not time.
        """
        room = (self.window - self.bytes_in_flight) // size
        if room <= 0:
            return 0, 0.0
        rate = PACING_GAIN * self.window / max(smoothed_rtt, limits.TIMER_GRANULARITY)
        burst = PACING_BURST_PACKETS * self.max_datagram
        self._tokens = min(burst, self._tokens + (now - self._last_refill) * rate)
        self._last_refill = now
        allowed = int((self._tokens + rate * limits.TIMER_GRANULARITY) // size)
        if allowed <= 0:
            return 0, (size - self._tokens) / rate
        return min(room, allowed), 0.0

    def pacing_delay(self, size: int, now: float, smoothed_rtt: float) -> float:
        """Seconds to wait before a packet of ``size`` may leave (0 when it may now)."""
        rate = PACING_GAIN * self.window / max(smoothed_rtt, limits.TIMER_GRANULARITY)
        burst = PACING_BURST_PACKETS * self.max_datagram
        self._tokens = min(burst, self._tokens + (now - self._last_refill) * rate)
        self._last_refill = now
        delay = (size - self._tokens) / rate
        # Waits shorter than the timer granularity would only spin the event loop.
        return 0.0 if delay < limits.TIMER_GRANULARITY else delay


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
            self.cc.on_sent(packet.size, packet.time_sent)
            self._last_eliciting_sent = packet.time_sent

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
        on_acked = self.cc.on_acked
        for packet in acked:
            on_acked(packet)
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
