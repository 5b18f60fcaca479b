"""``cof dedup-stats`` measures the history (the commits refs and HEAD reach) against
the blocks that history references, and shows the store's other blocks apart:
staged only, reached only from reflogs, unreferenced. Before, the ratio divided the
history's logical size by every block in the store and could fall below 1."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.integration.conftest import CofRunner, CofSandbox

KIB = 1024


def stats(cof: CofRunner) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cof("dedup-stats", "--json").stdout)
    return result


def test_dedup_stats_counts_the_history_and_shows_the_rest_apart(
    sandbox: CofSandbox, cof: CofRunner
) -> None:
    sandbox.env.update({"COF_AUTHOR_NAME": "T", "COF_AUTHOR_EMAIL": "t@e"})
    work = sandbox.work
    cof("init")
    data = os.urandom(64 * KIB)
    (work / "one.bin").write_bytes(data)
    (work / "two.bin").write_bytes(data)
    cof("add", "-A")
    cof("commit", "-q", "-m", "the same data twice")
    (work / "big.bin").write_bytes(os.urandom(512 * KIB))
    cof("add", "big.bin")  # staged, not committed
    s = stats(cof)
    assert s["dedup_ratio"] == 2.0  # was 0.2: the staged file's blocks counted
    assert 45.0 < s["savings_percent"] < 50.0  # was negative
    assert s["logical_bytes"] == 128 * KIB and s["data_bytes"] == 64 * KIB
    assert s["outside_history"]["staged"]["raw_bytes"] >= 512 * KIB

    (work / "big.bin").write_bytes(os.urandom(32 * KIB))
    cof("add", "big.bin")  # the first version is staged no more: unreferenced
    cof("commit", "-q", "-m", "big")
    cof("commit", "-q", "--amend", "-m", "big, reworded")  # the old commit: reflog only
    s = stats(cof)
    outside = s["outside_history"]
    assert outside["unreferenced"]["raw_bytes"] >= 512 * KIB
    assert outside["reflogs"]["blocks"] >= 1  # the amended commit's own block
    assert outside["staged"]["blocks"] == 0
    assert s["logical_bytes"] == 160 * KIB and s["data_bytes"] == 96 * KIB
    assert s["dedup_ratio"] == round(160 / 96, 4)
    # Every block is in one group, and the packs hold the groups plus overhead.
    groups = [s["history_blocks"], *(g["blocks"] for g in outside.values())]
    assert sum(groups) == s["blocks"]
    stored = [s["history_stored_bytes"], *(g["stored_bytes"] for g in outside.values())]
    assert sum(stored) + s["pack_overhead_bytes"] == s["stored_bytes"]
    text = cof("dedup-stats").stdout
    assert "dedup ratio        1.67x" in text and "unreferenced" in text
