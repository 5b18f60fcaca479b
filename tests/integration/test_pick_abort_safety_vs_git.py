"""``cherry-pick``/``revert`` ``--abort`` and ``--skip`` never lose local work, as
git's ``reset --merge`` does not: run side by side with git, a local change to a
file the reset would rewrite (or an untracked file where it brings one back) makes
both refuse, and leave everything (files, staging area, the stopped pick, the
series) as it was; local changes to other files stay through the reset. A stop
writes no ``ORIG_HEAD`` (git's picks never do); a reset does.

Differences from git, documented rather than matched: cof's refusal is one line
``cof: ...`` (exit 7) where git prints ``error:``/``fatal:`` lines (exit 128), and
names every path in the way (git: the first).
"""

from __future__ import annotations

import json
import shutil

from tests.integration.gitpair import GitPair
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_merge_conflicts import apply, lines, pair
from tests.integration.test_pick_vs_git import (
    BASE,
    MAIN_A,
    RESOLVED,
    assert_same,
    assert_state,
    commit_all,
    same_after,
    todo,
)

__all__ = ["pair"]  # fixture, used by name

PICKING = {"CHERRY_PICK_HEAD", "MERGE_MSG"}
NOT_UPTODATE = "not uptodate. Cannot merge."


def _history(pair: GitPair) -> None:
    """main: base (a b k d), "main b", "main a"; side: "side edit" (a.txt conflicts
    with "main a"; k.txt changed and d.txt deleted cleanly), "add c"."""
    apply(pair, {"a.txt": BASE, "b.txt": b"x\n", "k.txt": b"k\n", "d.txt": b"d\n"})
    commit_all(pair, "base")
    pair.both(["switch", "-q", "-c", "side"])
    apply(pair, {"a.txt": lines("1", "2", "S", "4", "5"), "k.txt": b"side\n", "d.txt": None})
    pair.both(["commit", "-qam", "side edit"])
    apply(pair, {"c.txt": b"new\n"})
    commit_all(pair, "add c")
    pair.both(["switch", "-q", "main"])
    apply(pair, {"b.txt": b"y\n"})
    pair.both(["commit", "-qam", "main b"])
    apply(pair, {"a.txt": MAIN_A})
    pair.both(["commit", "-qam", "main a"])


def orig_heads(pair: GitPair) -> tuple[str | None, str | None]:
    """The summary of the commit ORIG_HEAD names in (git, cof), None without one."""
    git = None
    if (pair.git_root / ".git" / "ORIG_HEAD").exists():
        git = pair.git("log", "-1", "--format=%s", "ORIG_HEAD").stdout.strip()
    cof = None
    if (pair.cof_root / ".cof" / "ORIG_HEAD").exists():
        logged = json.loads(pair.cof("log", "-n", "1", "--json", "ORIG_HEAD").stdout)
        cof = logged[0]["message"].splitlines()[0]
    return git, cof


def _refused(pair: GitPair, args: list[str], phrase: str, state: set[str]) -> None:
    """Both refuse with git's ``phrase``, keeping the state files (the callers then
    check that nothing else changed either: files, status, HEAD)."""
    g, c = pair.both(args)
    assert g.returncode == 128 and f"error: {phrase}" in g.stderr, g.stderr
    assert_fails_one_line(c, phrase)
    assert_state(pair, state)


def _remove_dir(pair: GitPair, path: str) -> None:
    for root in (pair.git_root, pair.cof_root):
        shutil.rmtree(root / path)


def test_single_pick_abort_and_skip_keep_local_work_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["cherry-pick", "side~1"])  # stops on a.txt; k.txt, d.txt staged
    assert_state(pair, PICKING)
    assert orig_heads(pair) == (None, None)
    # A local change to k.txt, which the reset would put back: both refuse.
    apply(pair, {"k.txt": b"mine\n", "b.txt": b"mine too\n"})
    for action in ("--abort", "--skip"):
        _refused(pair, ["cherry-pick", action], f"Entry 'k.txt' {NOT_UPTODATE}", PICKING)
    # An untracked d.txt where the reset brings d.txt back: refused (a file, then a
    # directory holding one).
    apply(pair, {"k.txt": b"side\n", "d.txt": b"mine\n"})
    message = "Untracked working tree file 'd.txt' would be overwritten by merge."
    _refused(pair, ["cherry-pick", "--abort"], message, PICKING)
    pair.delete("d.txt")
    apply(pair, {"d.txt/z": b"z\n"})
    _, c = pair.both(["cherry-pick", "--skip"])
    assert_fails_one_line(c, "d.txt/z")
    assert_same(pair)  # nothing changed by the refusals
    # Nothing in the way: the conflicted a.txt (edited or not), the deleted k.txt and
    # d.txt (an ignored file there is expendable) get HEAD's versions; b.txt keeps
    # its local change. ORIG_HEAD: HEAD before.
    _remove_dir(pair, "d.txt")
    (pair.git_root / ".git" / "info" / "exclude").write_text("d.txt\n")
    apply(pair, {".cofignore": b"d.txt\n", "d.txt": b"ignored\n"})
    apply(pair, {"a.txt": b"scribble\n", "k.txt": None})
    pair.both(["cherry-pick", "--abort"])
    assert_same(pair)  # reset: moving to <id>
    assert_state(pair, set())
    assert orig_heads(pair) == ("main a", "main a")


def test_series_abort_skip_quit_keep_local_work_as_git_does(pair: GitPair) -> None:
    _history(pair)
    series = PICKING | {"sequencer"}
    pair.both(["cherry-pick", "side", "side~1"])  # "add c" commits, "side edit" stops
    assert_state(pair, series)
    assert orig_heads(pair) == (None, None)
    # --abort would remove c.txt, which "add c" brought: a change to it is refused.
    apply(pair, {"c.txt": b"mine\n", "b.txt": b"mine too\n"})
    _refused(pair, ["cherry-pick", "--abort"], f"Entry 'c.txt' {NOT_UPTODATE}", series)
    assert todo(pair) == ["pick <id> side edit"]
    apply(pair, {"k.txt": b"mine\n"})
    _refused(pair, ["cherry-pick", "--skip"], f"Entry 'k.txt' {NOT_UPTODATE}", series)
    # --skip of the last pick ends the series; c.txt and b.txt keep their changes.
    apply(pair, {"k.txt": b"side\n"})
    pair.git("update-index", "-q", "--refresh", check=False)  # git trusts stat data
    same_after(pair, ["cherry-pick", "--skip"], reflog=2)
    assert_state(pair, set())
    assert orig_heads(pair) == ("add c", "add c")
    # A revert series: "add c" reverted (c.txt goes), "main a" stops. An untracked
    # c.txt is in the way of --abort; --quit keeps it, the conflict and b.txt.
    apply(pair, {"c.txt": b"new\n", "a.txt": RESOLVED})
    pair.both(["commit", "-q", "-a", "-m", "main again"])
    pair.both(["revert", "HEAD~1", "HEAD~2"])
    reverting = {"REVERT_HEAD", "MERGE_MSG", "sequencer"}
    assert_state(pair, reverting)
    assert orig_heads(pair) == ("add c", "add c")  # not written by the stop
    apply(pair, {"c.txt": b"mine\n"})
    message = "Untracked working tree file 'c.txt' would be overwritten by merge."
    _refused(pair, ["revert", "--abort"], message, reverting)
    pair.both(["revert", "--quit"])
    assert_same(pair)
    assert_state(pair, set())
