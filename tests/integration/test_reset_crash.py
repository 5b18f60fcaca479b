"""SIGKILL of cofd in the middle of a ``reset --hard`` that writes big files.

The working tree and staging area are written before the branch moves, so the kill
leaves the branch where it was (``REV`` still names the same commit), no temp file
anywhere, and running the same reset again finishes the job.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.integration.test_switch_crash import (
    NEW_FILES,
    assert_no_temp_files,
    build_history,
    kill_once_files_land,
)
from tests.integration.treekit import listing, sha256_file

if TYPE_CHECKING:
    from tests.integration.conftest import CofSandbox


def branch_tips(sandbox: CofSandbox) -> dict[str, str]:
    branches = json.loads(sandbox.cof("branch", "--json").stdout)["branches"]
    return {b["name"]: b["commit"] for b in branches}


def test_sigkill_mid_reset_hard_keeps_the_branch_and_the_rerun_finishes(
    sandbox: CofSandbox,
) -> None:
    cof, work = sandbox.cof, sandbox.work
    sandbox.env.update({"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"})
    expected = build_history(sandbox, three_way=False)  # main checked out; side: big files
    names = {"keep.txt", "gone.txt", "changed.bin", *NEW_FILES}
    tips = branch_tips(sandbox)

    kill_once_files_land(sandbox, "reset", "--hard", "side")

    assert branch_tips(sandbox) == tips  # the ref moves last: not yet
    shown = cof("status", "--porcelain").stdout
    assert all(line[3:] in names for line in shown.splitlines()), shown
    assert_no_temp_files(work, names)

    again = cof("reset", "--hard", "side", check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"HEAD is now at {tips['side'][:12]} side\n"
    assert listing(work, sha256_file, skip=".cof") == expected
    assert cof("status", "--porcelain").stdout == ""
    assert branch_tips(sandbox) == {**tips, "main": tips["side"]}
    assert cof("reflog", "main").stdout.splitlines()[0].endswith(": reset: moving to side")
    assert_no_temp_files(work, names)
