"""``merge --abort``, ``reset --merge`` and ``reset --keep`` never lose local work, as
git's do not: run side by side with git, an unstaged edit to a file the reset puts
back (or an untracked file where it brings one) makes both refuse and leave
everything as it was (files, staging area, HEAD, ``MERGE_HEAD`` and ``MERGE_MSG``);
otherwise both reset the same files, keep the same local changes, write
``ORIG_HEAD`` and log ``reset: moving to REV``. The same after a ``pull`` that
stopped on conflicts. A conflicted ``stash pop`` leaves no merge to abort in
either; ``reset --merge`` ends it, with the same refusals.

Differences from git, documented rather than matched: cof's refusal is one line
``cof: ...`` (exit 7) where git prints an ``error:`` line and ``fatal: Could not
reset index file to revision 'REV'.`` (exit 128); cof names every path in the way
(git: the first), words a directory holding untracked files its own way (git:
"Updating 'd' would lose untracked files in it"), and compares content where git
trusts stat data (so the git side refreshes its index after a file is put back).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import CofSandbox
from tests.integration.gitpair import GitPair, Snapshot, snapshot
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_merge_conflicts import apply, lines, pair
from tests.integration.test_pick_abort_safety_vs_git import orig_heads
from tests.integration.test_pick_vs_git import assert_same_reflog, assert_state, commit_all
from tests.integration.test_sync import Peer, _git, _git_run, share_and_clone

__all__ = ["pair"]  # fixture, used by name

MERGING = {"MERGE_HEAD", "MERGE_MSG"}
NOT_UPTODATE = "not uptodate. Cannot merge."
OVERWRITTEN = "would be overwritten by merge."
THEIRS = re.compile(rb"^>>>>>>> .*$", re.MULTILINE)


def refused(pair: GitPair, args: list[str], phrase: str, rev: str) -> None:
    """Both refuse: git with ``error: PHRASE`` and its fatal line naming ``rev``, cof
    in one line with the same words."""
    g, c = pair.both(args)
    assert g.returncode == 128, g.stderr
    assert f"error: {phrase}" in g.stderr, g.stderr
    assert f"fatal: Could not reset index file to revision '{rev}'." in g.stderr
    assert_fails_one_line(c, phrase, f"could not reset to {rev}")


def fatal(pair: GitPair, args: list[str], message: str) -> None:
    """Both refuse before looking at any file: git's ``fatal: MESSAGE``."""
    g, c = pair.both(args)
    assert g.returncode == 128 and g.stderr == f"fatal: {message}\n", g.stderr
    assert_fails_one_line(c, message.rstrip("."))


def ok(pair: GitPair, *args: str) -> None:
    """Run a step in both; both must succeed."""
    g, _ = pair.both(list(args))
    assert g.returncode == 0, g.stderr


def same_state(pair: GitPair, reflog: bool = False) -> None:
    """The same files, branch line and porcelain status (the staging area against
    HEAD and the working tree), and with ``reflog`` HEAD's newest reflog line."""
    assert snapshot(pair.cof_root, ".cof") == snapshot(pair.git_root, ".git")
    g, c = pair.both(["status", "--porcelain", "-b"])
    assert c.stdout == g.stdout, f"git:\n{g.stdout}cof:\n{c.stdout}"
    if reflog:
        assert_same_reflog(pair)


def refresh_git(pair: GitPair) -> None:
    pair.git("update-index", "-q", "--refresh", check=False)  # git trusts stat data


def branch_reflogs(pair: GitPair, branch: str) -> tuple[list[str], list[str]]:
    """The branch's newest two reflog messages in (git, cof)."""
    git = pair.git("reflog", "show", "-n", "2", "--format=%gs", branch).stdout.splitlines()
    out = pair.cof("reflog", "show", branch).stdout.splitlines()[:2]
    return git, [line.split(": ", 1)[1] for line in out]


def replace(pair: GitPair, files: dict[str, bytes | None]) -> None:
    """Remove each path (file or directory) in both, then write the given bytes."""
    for root in (pair.git_root, pair.cof_root):
        for path in files:
            full = root / path
            if full.is_dir():
                shutil.rmtree(full)
            else:
                full.unlink(missing_ok=True)
    apply(pair, {p: data for p, data in files.items() if data is not None})
    refresh_git(pair)


def _conflicted_merge(pair: GitPair) -> None:
    """main: base (a b k d), "main a"; side: a.txt conflicting, k.txt changed, d.txt
    deleted, c.txt added. ``merge side`` stops on a.txt with k, d, c staged; b.txt's
    unstaged edit is in the way of nothing."""
    apply(pair, {"a.txt": lines("1", "2", "3"), "b.txt": b"b\n", "k.txt": b"k\n", "d.txt": b"d\n"})
    commit_all(pair, "base")
    ok(pair, "switch", "-q", "-c", "side")
    apply(pair, {"a.txt": lines("1", "S", "3"), "k.txt": b"side\n", "d.txt": None})
    apply(pair, {"c.txt": b"new\n"})
    commit_all(pair, "side")
    ok(pair, "switch", "-q", "main")
    apply(pair, {"a.txt": lines("1", "M", "3")})
    ok(pair, "commit", "-qam", "main a")
    apply(pair, {"b.txt": b"mine\n"})
    g, c = pair.both(["merge", "side"])
    assert g.returncode == c.returncode == 1
    assert_state(pair, MERGING)


def test_merge_abort_and_reset_merge_keep_local_work_as_git_does(pair: GitPair) -> None:
    _conflicted_merge(pair)
    # Resets other than --merge are refused in the middle of a merge, as --merge
    # with paths is.
    fatal(pair, ["reset", "--keep"], "Cannot do a keep reset in the middle of a merge.")
    fatal(pair, ["reset", "--merge", "--", "b.txt"], "Cannot do merge reset with paths.")
    # An unstaged edit to k.txt (staged by the merge), to c.txt (added by it) or an
    # untracked d.txt (deleted by it): the abort would lose them, so both refuse.
    apply(pair, {"k.txt": b"mine\n"})
    refused(pair, ["merge", "--abort"], f"Entry 'k.txt' {NOT_UPTODATE}", "HEAD")
    replace(pair, {"k.txt": b"side\n", "c.txt": b"mine\n"})
    refused(pair, ["merge", "--abort"], f"Entry 'c.txt' {NOT_UPTODATE}", "HEAD")
    replace(pair, {"c.txt": b"new\n", "d.txt": b"mine\n"})
    refused(
        pair, ["reset", "--merge"], f"Untracked working tree file 'd.txt' {OVERWRITTEN}", "HEAD"
    )
    same_state(pair, reflog=True)  # nothing changed
    assert_state(pair, MERGING)
    assert orig_heads(pair) == ("main a", "main a")  # the merge's
    # Nothing in the way: the conflicted a.txt (even edited) and every staged path
    # get HEAD's version; b.txt keeps its edit; logged as git's reset --merge, in
    # HEAD's reflog only.
    pair.delete("d.txt")
    apply(pair, {"a.txt": b"scribble\n"})
    ok(pair, "merge", "--abort")
    same_state(pair, reflog=True)  # reset: moving to HEAD
    assert_state(pair, set())
    git_log, cof_log = branch_reflogs(pair, "main")
    assert cof_log == git_log == ["commit: main a", "commit (initial): base"]
    g, c = pair.both(["merge", "--abort"])
    assert g.stderr == "fatal: There is no merge to abort (MERGE_HEAD missing).\n"
    assert_fails_one_line(c, "no merge to abort (MERGE_HEAD missing)")
    # A stash of edits to a.txt and k.txt (and b.txt's) popped onto a conflicting
    # a.txt: no MERGE_HEAD, k.txt and b.txt staged; reset --merge refuses to lose an
    # edit to k.txt, then puts all three back (the stash is kept); the untracked
    # c.txt stays.
    apply(pair, {"a.txt": lines("1", "S2", "3"), "k.txt": b"stashed\n"})
    ok(pair, "stash", "-q")
    apply(pair, {"a.txt": lines("1", "M2", "3"), "c.txt": b"untracked\n"})
    ok(pair, "commit", "-qam", "main again")
    g, c = pair.both(["stash", "pop"])
    assert g.returncode == c.returncode == 1
    assert_state(pair, set())
    apply(pair, {"k.txt": b"edited\n"})
    refused(pair, ["reset", "--merge"], f"Entry 'k.txt' {NOT_UPTODATE}", "HEAD")
    same_state(pair)
    replace(pair, {"k.txt": b"stashed\n"})
    ok(pair, "reset", "--merge")
    same_state(pair, reflog=True)
    assert orig_heads(pair) == ("main again", "main again")
    assert len(pair.cof("stash", "list").stdout.splitlines()) == 1


def _diverged(pair: GitPair) -> None:
    """Commit T (a file d, n, p/x, r, same), then H: d/ a directory (d/y), f and g
    new, n and p/ gone, r changed. ``reset --keep HEAD~1`` goes back across all."""
    apply(pair, {"d": b"d\n", "n": b"new\n", "p/x": b"x\n", "r": b"t\n", "same": b"s\n"})
    commit_all(pair, "T")
    replace(pair, {"d": None, "n": None, "p": None})
    apply(pair, {"f": b"h\n", "g": b"h\n", "d/y": b"y\n", "r": b"h\n"})
    commit_all(pair, "H")


def test_reset_keep_and_merge_refuse_and_keep_as_git_does(pair: GitPair) -> None:
    _diverged(pair)
    # Refusals, each alone (nothing changes): an unstaged edit, an untracked file
    # where a file comes or where a directory is needed, a directory with untracked
    # files where a file comes ...
    apply(pair, {"f": b"edited\n"})
    refused(pair, ["reset", "--keep", "HEAD~1"], f"Entry 'f' {NOT_UPTODATE}", "HEAD~1")
    replace(pair, {"f": b"h\n", "n": b"untracked\n"})
    message = f"Untracked working tree file 'n' {OVERWRITTEN}"
    refused(pair, ["reset", "--keep", "HEAD~1"], message, "HEAD~1")
    replace(pair, {"n": None, "p": b"untracked\n"})
    message = f"Untracked working tree file 'p' {OVERWRITTEN}"
    refused(pair, ["reset", "--merge", "HEAD~1"], message, "HEAD~1")
    replace(pair, {"p": None, "d/z": b"untracked\n"})
    g, c = pair.both(["reset", "--keep", "HEAD~1"])
    assert "error: Updating 'd' would lose untracked files in it" in g.stderr
    assert_fails_one_line(c, "'d/z'")
    # ... and for --keep alone: a staged change to a file the reset changes, and an
    # untracked file where HEAD's is deleted from the staging area only.
    replace(pair, {"d/z": None, "f": b"staged\n"})
    ok(pair, "add", "f")
    message = f"Entry 'f' {OVERWRITTEN} Cannot merge."
    refused(pair, ["reset", "--keep", "HEAD~1"], message, "HEAD~1")
    replace(pair, {"f": b"h\n"})
    ok(pair, "add", "f")
    ok(pair, "rm", "-q", "--cached", "f")
    message = "Untracked working tree file 'f' would be removed by merge."
    refused(pair, ["reset", "--keep", "HEAD~1"], message, "HEAD~1")
    same_state(pair)
    assert orig_heads(pair) == (None, None)
    # --keep: d, n, p/x come back, f, g (deleted here: nothing lost) and d/y go;
    # "same" keeps its change (the staged one becomes unstaged), a staged new q
    # becomes untracked, r (staged as T's) keeps its unstaged edit.
    apply(pair, {"f": b"h\n", "same": b"mine\n", "q": b"q\n", "r": b"t\n"})
    ok(pair, "add", "f", "same", "q", "r")
    apply(pair, {"r": b"local\n"})
    pair.delete("g")
    ok(pair, "reset", "--keep", "HEAD~1")
    same_state(pair, reflog=True)  # reset: moving to HEAD~1
    assert orig_heads(pair) == ("H", "H")
    # --merge back: a staged r whose working file matches is reset (git's table:
    # B B C C -> C C C), a staged new q removed; "same" keeps its edit; an edited d
    # is refused first.
    apply(pair, {"r": b"staged\n", "q": b"q\n", "d": b"d edited\n"})
    ok(pair, "add", "r", "q")
    refused(pair, ["reset", "--merge", "ORIG_HEAD"], f"Entry 'd' {NOT_UPTODATE}", "ORIG_HEAD")
    replace(pair, {"d": b"d\n"})
    ok(pair, "reset", "--merge", "ORIG_HEAD")
    same_state(pair)
    assert orig_heads(pair) == ("T", "T")
    # The last mode given wins, as git's: --merge after --hard keeps the edit.
    apply(pair, {"same": b"again\n"})
    ok(pair, "reset", "--hard", "--merge")
    assert snapshot(pair.cof_root, ".cof") == snapshot(pair.git_root, ".git")
    assert (pair.cof_root / "same").read_bytes() == b"again\n"


# --- pull ---------------------------------------------------------------------------


@pytest.fixture
def peers(sandbox_factory: Callable[[], CofSandbox]) -> tuple[Peer, Peer]:
    return Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")


def _git_clones(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, Path]:
    """git's side: a bare origin of ``files``, cloned as a (the writer) and b."""
    origin, a, b = tmp_path / "origin.git", tmp_path / "a", tmp_path / "b"
    _git("init", "-q", "--bare", "-b", "main", origin, cwd=tmp_path)
    _git("clone", "-q", origin, a, cwd=tmp_path)
    for name, data in files.items():
        (a / name).write_bytes(data)
    _git("add", "-A", cwd=a)
    _git("commit", "-qm", "initial", cwd=a)
    _git("push", "-q", "origin", "main", cwd=a)
    _git("clone", "-q", origin, b, cwd=tmp_path)
    return a, b


def _theirs_unnamed(files: Snapshot) -> Snapshot:
    """Conflict markers without the name of their side (git's pull names the fetched
    commit's id, cof's the remote-tracking branch)."""
    return {
        p: None if v is None else (THEIRS.sub(b">>>>>>>", v[0]), v[1]) for p, v in files.items()
    }


def test_pull_stopped_on_conflicts_aborts_as_git_does(
    peers: tuple[Peer, Peer], tmp_path: Path
) -> None:
    alice, bob = peers
    base = {"a.txt": lines("1", "2", "3"), "b.txt": b"b\n", "k.txt": b"k\n"}
    origin, copy = share_and_clone(alice, bob, base)
    git_a, git_b = _git_clones(tmp_path, base)
    theirs = {"a.txt": lines("1", "S", "3"), "k.txt": b"side\n"}
    ours = {"a.txt": lines("1", "M", "3")}
    for root, files in ((origin, theirs), (git_a, theirs), (copy, ours), (git_b, ours)):
        for name, data in files.items():
            (root / name).write_bytes(data)
    alice.cof("commit", "-qam", "theirs", cwd=origin)
    bob.cof("commit", "-qam", "ours", cwd=copy)
    _git("commit", "-qam", "theirs", cwd=git_a)
    _git("push", "-q", "origin", "main", cwd=git_a)
    _git("commit", "-qam", "ours", cwd=git_b)

    def both(args: list[str], code: int, git_flags: tuple[str, ...] = ()) -> str:
        g = _git_run(*args, *git_flags, cwd=git_b, check=False)
        c = bob.cof(*args, cwd=copy, check=False)
        assert g.returncode == code and (c.returncode == 0) == (code == 0), (g, c)
        assert _theirs_unnamed(snapshot(copy, ".cof")) == _theirs_unnamed(snapshot(git_b, ".git"))
        for name in ("MERGE_HEAD", "MERGE_MSG"):
            assert (copy / ".cof" / name).exists() == (git_b / ".git" / name).exists()
        g = _git_run("status", "--porcelain", cwd=git_b)
        assert bob.cof("status", "--porcelain", cwd=copy).stdout == g.stdout
        return c.stderr

    for root in (copy, git_b):
        (root / "b.txt").write_bytes(b"mine\n")  # kept through it all
    both(["pull", "-q"], 1, ("--no-rebase",))
    assert (copy / ".cof" / "MERGE_HEAD").exists()
    for root in (copy, git_b):
        (root / "k.txt").write_bytes(b"mine\n")
    error = both(["merge", "--abort"], 128)
    assert f"Entry 'k.txt' {NOT_UPTODATE}" in error
    for root in (copy, git_b):
        (root / "k.txt").write_bytes(b"side\n")
    _git_run("update-index", "-q", "--refresh", cwd=git_b, check=False)
    both(["merge", "--abort"], 0)
    assert (copy / "b.txt").read_bytes() == b"mine\n"
