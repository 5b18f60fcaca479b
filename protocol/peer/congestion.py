"""Congestion control: a delivery-rate model in the style of BBR, with a loss ceiling.

Why not NewReno (RFC 9002 section 7): it halves the window for every round trip that
loses a packet, so on a link that drops a few percent of packets at random (Wi-Fi,
a flaky switch port) the window never grows: 5 % loss held a clone to a quarter of its
loss-free rate. This controller instead measures what the path delivers and sends at
that rate:

- **delivery rate**: every acknowledgement yields a sample, bytes delivered between
  the sending of the newest acknowledged packet and its acknowledgement divided by
  the longer of the send and ack intervals (draft-cheng-iccrg-delivery-rate-
  estimation); the bottleneck bandwidth is the largest sample of the last
  :data:`BW_WINDOW_ROUNDS` round trips. Samples taken while the sender had nothing
  to send (application-limited) only ever raise the estimate.
- **minimum RTT** over the last :data:`MIN_RTT_WINDOW` seconds (never below
  :data:`MIN_RTT_FLOOR`).
- **window** = ``CWND_GAIN`` x bandwidth x minimum RTT; **pacing rate** = gain x
  bandwidth, where the gain is 2/ln 2 in STARTUP (doubling each round trip until the
  bandwidth stops growing by 25 % for 3 rounds), its inverse in DRAIN (until the
  queue built in STARTUP is gone), then cycles 1.25, 0.75, 1 x 6 in PROBE_BW, one
  phase per minimum RTT: probe for more, drain what the probe queued, cruise.
- **loss ceiling**: random loss is not congestion and is ignored, but a round trip
  that loses more than :data:`LOSS_CEILING` of what it sent is: the bandwidth
  estimate is cut to :data:`LOSS_BACKOFF` of itself (and STARTUP ends). A sender
  overflowing a queue therefore still backs off, multiplicatively, as TCP does.

Pure bookkeeping like :mod:`protocol.peer.recovery`: times are passed in.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from typing import TYPE_CHECKING

from protocol.peer import limits

if TYPE_CHECKING:
    from protocol.peer.recovery import SentPacket

INITIAL_WINDOW_PACKETS = 10  # RFC 9002 kInitialWindow
MINIMUM_WINDOW_PACKETS = 4  # enough to keep ACKs flowing (BBR's minimum)
STARTUP_GAIN = 2 / math.log(2)  # the smallest gain that doubles the rate each round
DRAIN_GAIN = 1 / STARTUP_GAIN
CWND_GAIN = 2.0  # a window of two BDPs rides out delayed and aggregated ACKs
PROBE_GAINS = (1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
BW_WINDOW_ROUNDS = 10  # bandwidth samples older than this many round trips expire
FULL_BW_GROWTH = 1.25  # STARTUP ends when the bandwidth grew less than this...
FULL_BW_ROUNDS = 3  # ... for this many round trips in a row
MIN_RTT_WINDOW = 10.0  # seconds a minimum-RTT sample stays valid
# The wire RTT of a LAN or loopback (50-200 us) is far below the scheduling jitter of
# two userspace peers (an ACK every 10 packets, reads batched per wake-up): a window
# sized from it would starve the pipe between wake-ups.
MIN_RTT_FLOOR = 0.004
LOSS_CEILING = 0.15  # a round trip losing more than this share of its bytes is congested
LOSS_MIN_PACKETS = 8  # ... and at least this many packets (a handful is noise)
LOSS_BACKOFF = 0.7  # the bandwidth estimate after a congested round trip
PACING_BURST_PACKETS = 32  # packets that may leave back to back (one GSO send)
# ... or what the pacing rate allows in this long, if more: an event loop's timer fires
# up to a millisecond late (libuv counts whole milliseconds), and a bucket holding less
# than that loses the difference at every wake-up. With a 32-packet bucket, a sender
# pacing at 200 MB/s and woken every 1-2 ms was held to ~45 KB per wake-up.
PACING_BURST_TIME = 2 * limits.TIMER_GRANULARITY


class Mode(enum.Enum):
    STARTUP = "startup"
    DRAIN = "drain"
    PROBE_BW = "probe_bw"


class BandwidthFilter:
    """The largest sample of the last ``rounds`` round trips (one slot per round)."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self._slots: deque[list[float]] = deque()  # [round, best sample], ascending

    @property
    def best(self) -> float:
        return max((slot[1] for slot in self._slots), default=0.0)

    def update(self, sample: float, round_count: int) -> None:
        slots = self._slots
        if slots and slots[-1][0] == round_count:
            slots[-1][1] = max(slots[-1][1], sample)
        else:
            slots.append([round_count, sample])
        while slots[0][0] <= round_count - self.rounds:
            slots.popleft()

    def scale(self, factor: float) -> None:
        for slot in self._slots:
            slot[1] *= factor


class MinRttFilter:
    """Minimum RTT over a sliding time window, kept as two half-window minima."""

    def __init__(self, window: float) -> None:
        self.half = window / 2
        self._current = self._previous = math.inf
        self._started = 0.0

    @property
    def value(self) -> float:
        return min(self._current, self._previous)

    def update(self, sample: float, now: float) -> None:
        if now - self._started >= self.half:
            self._previous, self._current, self._started = self._current, math.inf, now
        self._current = min(self._current, sample)


class CongestionControl:
    """Window and pacing rate from the measured delivery rate and minimum RTT."""

    def __init__(self, max_datagram: int) -> None:
        self.max_datagram = max_datagram
        self.window = INITIAL_WINDOW_PACKETS * max_datagram
        self.bytes_in_flight = 0
        self.mode = Mode.STARTUP
        self.bandwidth = BandwidthFilter(BW_WINDOW_ROUNDS)
        self.min_rtt = MinRttFilter(MIN_RTT_WINDOW)
        # delivery-rate bookkeeping (stamped on every packet sent)
        self.delivered = 0
        self._delivered_time = 0.0
        self._first_sent_time = 0.0
        self._app_limited_until = 0  # delivered count at which app-limited ends; 0: not
        # round trips
        self.round_count = 0
        self._next_round_delivered = 0
        self._round_lost = 0
        self._round_delivered_start = 0
        # STARTUP exit
        self._full_bw = 0.0
        self._full_bw_rounds = 0
        # PROBE_BW cycle
        self._cycle_index = 0
        self._cycle_stamp = 0.0
        # pacer
        self._tokens = float(PACING_BURST_PACKETS * max_datagram)
        self._last_refill = 0.0

    # -- the model -------------------------------------------------------------

    @property
    def pacing_gain(self) -> float:
        if self.mode is Mode.STARTUP:
            return STARTUP_GAIN
        if self.mode is Mode.DRAIN:
            return DRAIN_GAIN
        return PROBE_GAINS[self._cycle_index]

    def bdp(self) -> float:
        """Bandwidth x minimum RTT in bytes (0 before the first sample)."""
        rtt = self.min_rtt.value
        if math.isinf(rtt):
            return 0.0
        return self.bandwidth.best * max(rtt, MIN_RTT_FLOOR)

    def pacing_rate(self, smoothed_rtt: float) -> float:
        """Bytes per second the pacer lets out."""
        bandwidth = self.bandwidth.best
        if bandwidth <= 0:  # no sample yet: spread the initial window over one RTT
            return STARTUP_GAIN * self.window / max(smoothed_rtt, limits.TIMER_GRANULARITY)
        return self.pacing_gain * bandwidth

    def available(self) -> int:
        return max(0, self.window - self.bytes_in_flight)

    # -- events ----------------------------------------------------------------

    def stamp(self, now: float) -> tuple[int, float, float, bool]:
        """The delivery-rate state a packet sent at ``now`` records (see SentPacket)."""
        if self.bytes_in_flight == 0:  # a new flight: intervals start now
            self._first_sent_time = self._delivered_time = now
        return (
            self.delivered,
            self._delivered_time,
            self._first_sent_time,
            self._app_limited_until > 0,
        )

    def on_sent(self, packet: SentPacket) -> None:
        stamp = self.stamp(packet.time_sent)
        packet.delivered, packet.delivered_time, packet.first_sent_time = stamp[:3]
        packet.app_limited = stamp[3]
        self.on_sent_bytes(packet.size)

    def on_sent_bytes(self, size: int) -> None:
        """Packets of ``size`` bytes in all, already stamped, left now."""
        self.bytes_in_flight += size
        self._tokens -= size

    def on_app_limited(self) -> None:
        """The sender has nothing to send although the window is open."""
        if self.bytes_in_flight + self.max_datagram <= self.window:
            self._app_limited_until = max(self.delivered + self.bytes_in_flight, 1)

    def on_ack(self, acked: list[SentPacket], latest_rtt: float, now: float) -> None:
        """Newly acknowledged packets, newest (highest number) first."""
        size = sum(p.size for p in acked)
        self.bytes_in_flight -= size
        self.delivered += size
        self._delivered_time = now
        newest = acked[0]
        self._first_sent_time = newest.time_sent
        if self._app_limited_until and self.delivered > self._app_limited_until:
            self._app_limited_until = 0
        if latest_rtt > 0:
            self.min_rtt.update(latest_rtt, now)
        if newest.delivered >= self._next_round_delivered:
            self._end_round()
        interval = max(newest.time_sent - newest.first_sent_time, now - newest.delivered_time)
        if interval > 0:
            sample = (self.delivered - newest.delivered) / interval
            if not newest.app_limited or sample >= self.bandwidth.best:
                self.bandwidth.update(sample, self.round_count)
        self._advance_mode(now)
        self._set_window(size)

    def on_lost(self, packets: list[SentPacket], now: float) -> None:
        lost = sum(p.size for p in packets)
        self.bytes_in_flight -= lost
        self._round_lost += lost

    def on_discarded(self, packet: SentPacket) -> None:
        self.bytes_in_flight -= packet.size

    def _end_round(self) -> None:
        delivered = self.delivered - self._round_delivered_start
        lost = self._round_lost
        self.round_count += 1
        self._next_round_delivered = self.delivered
        self._round_delivered_start = self.delivered
        self._round_lost = 0
        congested = lost >= LOSS_MIN_PACKETS * self.max_datagram and lost > LOSS_CEILING * (
            lost + delivered
        )
        if congested:
            self.bandwidth.scale(LOSS_BACKOFF)
        if self.mode is Mode.STARTUP:
            best = self.bandwidth.best
            if best >= self._full_bw * FULL_BW_GROWTH:
                self._full_bw, self._full_bw_rounds = best, 0
            else:
                self._full_bw_rounds += 1
            if congested or self._full_bw_rounds >= FULL_BW_ROUNDS:
                self.mode = Mode.DRAIN

    def _advance_mode(self, now: float) -> None:
        if self.mode is Mode.DRAIN and self.bytes_in_flight <= self.bdp():
            self.mode, self._cycle_index, self._cycle_stamp = Mode.PROBE_BW, 0, now
        elif self.mode is Mode.PROBE_BW:
            rtt = max(self.min_rtt.value, MIN_RTT_FLOOR)
            if now - self._cycle_stamp >= rtt:
                self._cycle_index = (self._cycle_index + 1) % len(PROBE_GAINS)
                self._cycle_stamp = now

    def _set_window(self, acked: int) -> None:
        floor = MINIMUM_WINDOW_PACKETS * self.max_datagram
        target = max(CWND_GAIN * self.bdp(), floor)
        if self.mode is Mode.STARTUP:
            target = max(STARTUP_GAIN * self.bdp(), floor)
            # Slow-start-like growth until the model says stop (and before it has
            # anything to say: no sample within the initial window).
            if self.window < target or self.delivered < INITIAL_WINDOW_PACKETS * self.max_datagram:
                self.window += acked
        else:
            self.window = int(min(self.window + acked, target))
        self.window = max(floor, min(self.window, limits.MAX_CWND_BYTES))

    # -- the pacer -------------------------------------------------------------

    def _refill(self, now: float, rate: float) -> None:
        burst = max(PACING_BURST_PACKETS * self.max_datagram, rate * PACING_BURST_TIME)
        self._tokens = min(burst, self._tokens + (now - self._last_refill) * rate)
        self._last_refill = now

    def send_quota(self, size: int, now: float, smoothed_rtt: float) -> tuple[int, float]:
        """``(packets, 0)``: how many packets of ``size`` may leave now, or ``(0, wait)``.

        The same rule as :meth:`pacing_delay` applied packet after packet at one
        ``now``: a packet may leave when its wait would be under the timer granularity.
        A full window gives ``(0, 0.0)``: only an ACK opens it, not time.
        """
        room = (self.window - self.bytes_in_flight) // size
        if room <= 0:
            return 0, 0.0
        rate = self.pacing_rate(smoothed_rtt)
        self._refill(now, rate)
        allowed = int((self._tokens + rate * limits.TIMER_GRANULARITY) // size)
        if allowed <= 0:
            return 0, (size - self._tokens) / rate
        return min(room, allowed), 0.0

    def pacing_delay(self, size: int, now: float, smoothed_rtt: float) -> float:
        """Seconds to wait before a packet of ``size`` may leave (0 when it may now)."""
        rate = self.pacing_rate(smoothed_rtt)
        self._refill(now, rate)
        delay = (size - self._tokens) / rate
        # Waits shorter than the timer granularity would only spin the event loop.
        return 0.0 if delay < limits.TIMER_GRANULARITY else delay
