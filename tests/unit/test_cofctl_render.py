"""Progress rendering and JSON output of the CLI."""

from __future__ import annotations

import io

from cofctl.render import ProgressLine, format_bytes, format_progress


def test_format_bytes() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"


def test_format_progress_bytes_with_total() -> None:
    data = {"phase": "hashing", "done": 1536, "total": 3072, "unit": "bytes", "item": "a.bin"}
    assert format_progress(data) == "hashing 1.5 KiB / 3.0 KiB (50%) a.bin"


def test_format_progress_counts_and_unknown_total() -> None:
    assert format_progress({"phase": "checking", "done": 3, "total": 4, "unit": "files"}) == (
        "checking 3/4 files (75%)"
    )
    assert format_progress({"phase": "scanning", "done": 7, "unit": "files"}) == "scanning 7 files"
    assert format_progress({}) == "working"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_silent_during_first_second_then_drawn_and_cleared() -> None:
    stream, clock = io.StringIO(), FakeClock()
    with ProgressLine(stream, tty=True, clock=clock) as line:
        line.update({"phase": "hashing", "done": 1, "total": 2})
        assert stream.getvalue() == ""
        clock.now += 1.5
        line.update({"phase": "hashing", "done": 1, "total": 2})
        assert stream.getvalue().startswith("\rhashing 1/2 (50%)")
        clock.now += 0.01  # throttled: same phase, too soon
        line.update({"phase": "hashing", "done": 2, "total": 2})
        assert "2/2" not in stream.getvalue()
    assert stream.getvalue().endswith("\r")


def test_progress_plain_lines_when_not_a_tty() -> None:
    stream, clock = io.StringIO(), FakeClock()
    line = ProgressLine(stream, tty=False, clock=clock)
    clock.now += 2
    line.update({"phase": "a"})
    line.update({"phase": "a"})
    line.update({"phase": "b"})
    line.clear()
    assert stream.getvalue() == "a\nb\n"
