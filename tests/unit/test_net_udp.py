"""``cofd.net``: UDP segmentation offload helpers (runs of datagrams per send) and the
client driver."""

from __future__ import annotations

import itertools
import select
import socket
from collections import deque
from typing import Any, cast

import pytest

from cofd.net.driver import Driver
from cofd.net.endpoint import GSO_MAX_SEGMENTS, GSO_UNSUPPORTED, gso_ancillary, gso_runs
from protocol.peer.connection import State


def _sizes(runs: list[tuple[int, int]], datagrams: list[bytes]) -> list[list[int]]:
    return [[len(d) for d in datagrams[i:j]] for i, j in runs]


def test_runs_have_one_size_except_a_shorter_last() -> None:
    datagrams = [bytes(n) for n in (1397, 1397, 1397, 900, 1397, 60, 60, 1400, 1397)]
    runs = list(gso_runs(datagrams))
    assert _sizes(runs, datagrams) == [[1397, 1397, 1397, 900], [1397, 60], [60], [1400, 1397]]
    assert runs[0][0] == 0 and runs[-1][1] == len(datagrams)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))


def test_runs_respect_the_kernel_limits() -> None:
    datagrams = [bytes(1397)] * 100 + [bytes(100)] * 100
    for i, j in gso_runs(datagrams):
        assert j - i <= GSO_MAX_SEGMENTS and sum(len(d) for d in datagrams[i:j]) < 65507


def test_a_gso_send_arrives_as_separate_datagrams() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        run = [bytes([i]) * 1397 for i in range(5)] + [b"\xff" * 700]
        try:
            tx.sendmsg([b"".join(run)], gso_ancillary(1397), 0, rx.getsockname())
        except OSError as exc:
            if exc.errno in GSO_UNSUPPORTED:
                pytest.skip(f"no UDP GSO here: {exc}")
            raise
        assert [rx.recv(65536) for _ in run] == run


class _Conn:
    """A connection stand-in: each datagram read becomes one event."""

    state = State.ESTABLISHED
    peer_addr = None

    def __init__(self) -> None:
        self.events: deque[Any] = deque()

    def next_event(self) -> Any:
        return self.events.popleft() if self.events else None

    def receive_datagram(self, data: bytes, addr: object, now: float) -> None:
        self.events.append(data)

    def receive_datagrams(self, buffer: memoryview, size: int, segment: int, now: float) -> None:
        for at in range(0, size, segment):
            self.events.append(bytes(buffer[at : min(at + segment, size)]))

    def datagrams_to_send(self, now: float) -> list[bytes]:
        return []

    def get_timer(self) -> None:
        return None


def test_an_event_read_as_the_deadline_passes_is_returned() -> None:
    """A receiver that wakes past its deadline (stopped, or starved of CPU) with a
    datagram waiting gets its event: looking for one must not drop it (a lost
    BlocksReceived left a fetch waiting until its connection idled out)."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        tx.sendto(b"block", rx.getsockname())
        select.select([rx], [], [], 5)
        rx.setblocking(False)
        times = iter([0.0])  # the deadline is taken at 0; every later reading is past it
        driver = Driver(cast(Any, _Conn()), rx, clock=lambda: next(times, 10.0))
        assert driver.next_event(0.1) == b"block"
