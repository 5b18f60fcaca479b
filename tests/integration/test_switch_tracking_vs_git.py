"""``switch``/``checkout`` and upstreams, against git: NAME that only ``origin`` has
becomes a branch tracking ``origin/NAME`` (``--guess``, the default; ``--no-guess``
refuses), and ``-t``/``--track`` and ``--no-track`` decide whether a new branch
tracks its start (alone, ``--track origin/x`` creates ``x``).

A git clone and a cof clone (between two daemons) of the same origin, driven alike;
messages compared with ids masked. Unlike git, cof tracks only remote-tracking
branches: ``--track`` from a local branch is refused in one line.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.integration.test_sync import Peer, _git_run, pair
from tests.integration.test_upstream import Twins

__all__ = ["pair"]  # the fixture, used by name

_IDS = re.compile(r"\b[0-9a-f]{7,12}\b")


def _same(twins: Twins, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ARGS in both copies: same outcome, stdout and stderr (ids masked)."""
    ours = twins.bob.cof(*args, cwd=twins.cof_copy, check=False)
    theirs = _git_run(*args, cwd=twins.git_copy, check=False)
    assert (ours.returncode == 0) == (theirs.returncode == 0), (args, ours, theirs)
    if theirs.returncode == 0:
        for mine, git in ((ours.stdout, theirs.stdout), (ours.stderr, theirs.stderr)):
            assert _IDS.sub("<id>", mine) == _IDS.sub("<id>", git), (args, mine, git)
    return ours


def test_switch_and_checkout_guess_and_track_as_git_does(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    alice, bob = pair
    twins = Twins(alice, bob, tmp_path)
    for args in (("switch", "--no-guess", "feature"), ("checkout", "--no-guess", "feature")):
        assert _same(twins, *args).returncode != 0
    _same(twins, "switch", "feature")  # "branch 'feature' set up to track 'origin/feature'."
    _same(twins, "switch", "-c", "t1", "--track", "origin/main")
    _same(twins, "checkout", "-b", "t2", "-t", "origin/feature")
    _same(twins, "switch", "-c", "t3", "--no-track", "origin/feature")
    _same(twins, "switch", "-C", "t3", "origin/main")  # reset, and now tracking
    _same(twins, "checkout", "-B", "t2", "--no-track", "origin/main")  # keeps its upstream
    _same(twins, "branch", "-D", "feature")
    _same(twins, "checkout", "--track", "origin/feature")  # creates feature
    for args in (
        ("switch", "--track", "main"),  # no remote in the name
        ("switch", "-c", "t4", "--track", "origin/nope"),
        ("checkout", "-b", "t4", "--track", "HEAD~0"),  # not a branch
    ):
        assert _same(twins, *args).returncode != 0, args
    refused = bob.cof("switch", "-c", "t5", "--track", "main", cwd=twins.cof_copy, check=False)
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1
    assert "cannot track the local branch 'main'" in refused.stderr
    twins.assert_same("branch", "-vv")
