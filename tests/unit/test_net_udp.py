"""UDP segmentation offload helpers of ``cofd.net`` (runs of datagrams per send)."""

from __future__ import annotations

import itertools
import socket

import pytest

from cofd.net.endpoint import GSO_MAX_SEGMENTS, GSO_UNSUPPORTED, gso_ancillary, gso_runs


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
