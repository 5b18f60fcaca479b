"""``cof cherry-pick`` and ``cof revert`` run on git too: the same history in both,
then the same pick, compared for success versus failure, the commit made (message,
author, parents), HEAD's reflog, the files, ``status --porcelain`` and what is left
in ``.cof/`` (``.git/``) while stopped on conflicts.

Differences from git, documented rather than matched:

- Conflict markers name the picked commit by 12 hex digits (git: 7); files are
  compared with ids masked.
- The commit line is ``[BRANCH ID] SUMMARY`` with git's ``Author:``/``Date:`` lines
  but no diffstat; git's "Auto-merging" lines are not printed.
- Refusals are one line ``cof: ...``; a stop on conflicts prints git's ``error:``
  and ``hint:`` lines naming ``cof`` (without ``--skip``, which cof lacks).
- One commit at a time: no ranges, ``--skip``, ``--quit``, ``-e``, ``-s`` or
  strategies; ``revert`` never opens an editor (``--no-edit`` is implied).
- A pick that becomes empty stops (state left, as git) with a one-line error.
"""

from __future__ import annotations

import json
import re

from tests.integration.gitpair import GitPair, conflict_kinds, snapshot
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_merge_conflicts import apply, commit_both, lines, pair

__all__ = ["pair"]  # fixture, used by name

_IDS = re.compile(rb"\b[0-9a-f]{7,64}\b")
BASE = lines("1", "2", "3", "4", "5")


def _history(pair: GitPair) -> None:
    """main: base, "main b"; side: base, "side edit" (author A, 2001), "add c"."""
    apply(pair, {"a.txt": BASE, "b.txt": b"x\n"})
    commit_both(pair, "base")
    pair.both(["switch", "-q", "-c", "side"])
    apply(pair, {"a.txt": lines("1", "2", "S", "4", "5")})
    pair.both(["add", "-A"])
    author = ["--author", "A <a@a>"]
    pair.git("commit", "-q", "-m", "side edit", *author, "--date", "2001-01-01T00:00:00+0000")
    # cof has no --date: its author date is now; the test compares names only.
    pair.cof("commit", "-q", "-m", "side edit", *author)
    pair.sync_refs()
    apply(pair, {"c.txt": b"new\n"})
    commit_both(pair, "add c")
    pair.both(["switch", "-q", "main"])
    apply(pair, {"b.txt": b"y\n"})
    commit_both(pair, "main b")


def assert_same(pair: GitPair) -> None:
    """Same files (ids in conflict markers masked), status, refs and graph."""
    git_tree = {p: _masked(v) for p, v in snapshot(pair.git_root, ".git").items()}
    cof_tree = {p: _masked(v) for p, v in snapshot(pair.cof_root, ".cof").items()}
    assert cof_tree == git_tree
    pair.assert_same_status()
    pair.sync_refs()
    pair.assert_same_graph()


def _masked(value: tuple[bytes, bool] | None) -> tuple[bytes, bool] | None:
    return None if value is None else (_IDS.sub(b"<id>", value[0]), value[1])


def head_commit(pair: GitPair) -> tuple[dict[str, str], dict[str, str]]:
    """HEAD's message, author and committer in (git, cof)."""
    fmt = "%B%x00%an <%ae>%x00%cn <%ce>"
    message, author, committer = pair.git("log", "-1", f"--format={fmt}").stdout.split("\0")
    git = {"message": message.rstrip("\n") + "\n", "author": author, "committer": committer}
    c = json.loads(pair.cof("log", "-n", "1", "--json").stdout)[0]
    cof = {"message": c["message"], "author": c["author"], "committer": c["committer"]}
    return git, cof


def _text(text: str) -> str:
    return _IDS.sub(b"<id>", text.encode()).decode()


def reflog_tops(pair: GitPair) -> tuple[str, str]:
    git = pair.git("reflog", "-n", "1", "--format=%gs").stdout
    cof = pair.cof("reflog").stdout.splitlines(keepends=True)[0].split(": ", 1)[1]
    return _text(git), _text(cof)


def state_files(pair: GitPair) -> tuple[set[str], set[str]]:
    names = {"CHERRY_PICK_HEAD", "REVERT_HEAD", "MERGE_MSG", "MERGE_HEAD"}
    git = {n for n in names if (pair.git_root / ".git" / n).exists()}
    cof = {n for n in names if (pair.cof_root / ".cof" / n).exists()}
    return git, cof


def same_after(pair: GitPair, args: list[str]) -> None:
    pair.both(args)
    assert_same(pair)
    git_commit, cof_commit = head_commit(pair)
    assert _text(cof_commit["message"]) == _text(git_commit["message"])
    assert cof_commit["author"].startswith(git_commit["author"]), (git_commit, cof_commit)
    git_log, cof_log = reflog_tops(pair)
    assert cof_log == git_log
    git_files, cof_files = state_files(pair)
    assert cof_files == git_files


def test_cherry_pick_keeps_message_and_author_as_git_does(pair: GitPair) -> None:
    _history(pair)
    same_after(pair, ["cherry-pick", "side"])  # "add c": a new file
    same_after(pair, ["cherry-pick", "side~1"])  # author A kept, committer T
    c = pair.cof("log", "-n", "1", "--json")
    assert json.loads(c.stdout)[0]["author"].startswith("A <a@a>")


def test_cherry_pick_prints_commit_line_with_author(pair: GitPair) -> None:
    _history(pair)
    c = pair.cof("cherry-pick", "side~1")
    first, author = c.stdout.splitlines()[:2]
    assert re.fullmatch(r"\[main [0-9a-f]{12}\] side edit", first), c.stdout
    assert author == " Author: A <a@a>"


def test_cherry_pick_x_and_no_commit_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["cherry-pick", "-x", "side~1"])
    git_commit, cof_commit = head_commit(pair)
    assert _text(cof_commit["message"]) == _text(git_commit["message"])
    assert cof_commit["message"].endswith(
        "(cherry picked from commit " + _cof_id(pair, "side~1") + ")\n"
    )
    pair.sync_refs()
    pair.both(["cherry-pick", "-n", "side"])  # staged, not committed, no state left
    assert_same(pair)
    git_files, cof_files = state_files(pair)
    assert cof_files == git_files - {"MERGE_MSG"}  # git leaves a MERGE_MSG nobody reads


def test_cherry_pick_conflict_continue_as_git_does(pair: GitPair) -> None:
    _history(pair)
    apply(pair, {"a.txt": lines("1", "2", "M", "4", "5")})
    commit_both(pair, "main a")
    g, c = pair.both(["cherry-pick", "side~1"])
    assert g.returncode == c.returncode == 1
    assert conflict_kinds(c.stdout) == conflict_kinds(g.stdout) == ["content"]
    assert "error: could not apply" in c.stderr and "cof cherry-pick --continue" in c.stderr
    assert_same(pair)  # markers: HEAD and "<id> (side edit)"
    assert state_files(pair)[1] == state_files(pair)[0] == {"CHERRY_PICK_HEAD", "MERGE_MSG"}
    # Busy: another pick, a revert or --continue are refused until resolved.
    for args in (["cherry-pick", "side"], ["revert", "HEAD"], ["cherry-pick", "--continue"]):
        _, c = pair.both(args)
        assert_fails_one_line(c, "unmerged files")
    apply(pair, {"a.txt": lines("1", "2", "R", "4", "5")})
    pair.both(["add", "a.txt"])
    same_after(pair, ["cherry-pick", "--continue"])  # "commit (cherry-pick)", author A
    _, c = pair.both(["cherry-pick", "--continue"])
    assert_fails_one_line(c, "no cherry-pick or revert in progress")


def test_commit_concludes_a_cherry_pick_as_git_does(pair: GitPair) -> None:
    _history(pair)
    apply(pair, {"a.txt": lines("1", "2", "M", "4", "5")})
    commit_both(pair, "main a")
    pair.both(["cherry-pick", "side~1"])
    apply(pair, {"a.txt": lines("1", "2", "R", "4", "5")})
    pair.both(["add", "a.txt"])
    same_after(pair, ["commit", "-q", "-m", "my msg"])  # picked author, state removed


def test_cherry_pick_abort_restores_head_as_git_does(pair: GitPair) -> None:
    _history(pair)
    apply(pair, {"a.txt": lines("1", "2", "M", "4", "5")})
    commit_both(pair, "main a")
    pair.both(["cherry-pick", "side"])  # clean: c.txt
    pair.sync_refs()
    pair.both(["cherry-pick", "side~1"])  # stops
    pair.write("untracked.txt", b"u\n")
    pair.both(["cherry-pick", "--abort"])
    assert_same(pair)
    assert state_files(pair) == (set(), set())
    assert reflog_tops(pair)[0] == reflog_tops(pair)[1] == "reset: moving to <id>\n"
    _, c = pair.both(["cherry-pick", "--abort"])
    assert_fails_one_line(c, "no cherry-pick or revert in progress")


def test_cherry_pick_refusals_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["merge", "-q", "--no-ff", "side", "-m", "mm"])
    pair.sync_refs()
    for command in ("cherry-pick", "revert"):
        _, c = pair.both([command, "HEAD"])
        assert_fails_one_line(c, "is a merge but no -m option was given")
        _, c = pair.both([command, "side", "-m", "2"])
        assert_fails_one_line(c, "does not have parent 2")
        _, c = pair.both([command, "nope"])
        assert_fails_one_line(c, "nope")
    pair.both(["reset", "-q", "--hard", "HEAD~1"])
    pair.sync_refs()
    apply(pair, {"a.txt": b"dirty\n"})  # touched by the pick: refused
    _, c = pair.both(["cherry-pick", "side~1"])
    assert_fails_one_line(c, "would be overwritten")
    pair.both(["add", "a.txt"])  # staged: refused
    _, c = pair.both(["cherry-pick", "side"])
    assert_fails_one_line(c, "your local changes would be overwritten by cherry-pick")
    pair.both(["reset", "-q", "--hard"])
    apply(pair, {"b.txt": b"local\n"})  # untouched by the pick: kept
    same_after(pair, ["cherry-pick", "side~1"])


def test_cherry_pick_of_a_merge_with_mainline_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["switch", "-q", "-c", "other", "HEAD~1"])
    pair.sync_refs()
    pair.both(["merge", "-q", "--no-ff", "side", "-m", "merge side"])
    pair.sync_refs()
    pair.both(["switch", "-q", "main"])
    same_after(pair, ["cherry-pick", "-m", "1", "other"])


def test_revert_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["merge", "-q", "side", "-m", "merge side"])
    pair.sync_refs()
    same_after(pair, ["revert", "HEAD~1"])  # 'Revert "main b"' / "This reverts commit"
    cof_commit = head_commit(pair)[1]
    assert cof_commit["message"] == (
        f'Revert "main b"\n\nThis reverts commit {_cof_id(pair, "HEAD~2")}.\n'
    )
    same_after(pair, ["revert", "--no-edit", "HEAD"])  # Revert "Revert ..."
    same_after(pair, ["revert", "-m", "1", "HEAD~2"])  # a merge: ", reversing changes"


def test_revert_conflict_continue_and_abort_as_git_does(pair: GitPair) -> None:
    _history(pair)
    apply(pair, {"a.txt": lines("1", "2", "M", "4", "5")})
    commit_both(pair, "main a")
    apply(pair, {"a.txt": lines("1", "2", "R", "4", "5")})
    commit_both(pair, "main again")
    g, c = pair.both(["revert", "HEAD~1"])
    assert g.returncode == c.returncode == 1
    assert "error: could not revert" in c.stderr
    assert_same(pair)  # markers: HEAD and "parent of <id> (main a)"
    assert state_files(pair)[1] == state_files(pair)[0] == {"REVERT_HEAD", "MERGE_MSG"}
    pair.both(["revert", "--abort"])
    assert_same(pair)
    pair.both(["revert", "HEAD~1"])
    apply(pair, {"a.txt": BASE})
    pair.both(["add", "a.txt"])
    same_after(pair, ["revert", "--continue"])  # author T, reflog "commit: Revert ..."


def test_revert_no_commit_leaves_revert_head_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["revert", "-n", "HEAD"])
    assert_same(pair)
    assert state_files(pair)[1] == state_files(pair)[0] == {"REVERT_HEAD", "MERGE_MSG"}
    same_after(pair, ["revert", "--continue"])


def _cof_id(pair: GitPair, rev: str) -> str:
    commits = json.loads(pair.cof("log", "-n", "1", "--json", rev).stdout)
    return str(commits[0]["id"])


def test_a_stopped_pick_blocks_merge_and_ends_with_reset_or_checkout_as_git_does(
    pair: GitPair,
) -> None:
    _history(pair)
    apply(pair, {"a.txt": lines("1", "2", "M", "4", "5")})
    commit_both(pair, "main a")
    pair.both(["cherry-pick", "side~1"])  # stops on a.txt
    # gc keeps what the pick will commit from, though no ref may name it.
    picked = pair.cof("rev-parse", "CHERRY_PICK_HEAD").stdout.strip()
    assert picked == _cof_id(pair, "side~1")
    pair.cof("gc", "--prune=now")
    assert pair.cof("show", "--json", picked).returncode == 0
    pair.both(["add", "a.txt"])
    _, c = pair.both(["merge", "side"])  # resolved, but not concluded: refused by both
    assert_fails_one_line(c, "not concluded your cherry-pick")
    assert state_files(pair)[0] == state_files(pair)[1]
    pair.both(["reset", "-q", "--hard"])  # ends it, as git's reset
    assert state_files(pair) == (set(), set())
    assert_same(pair)
    pair.both(["cherry-pick", "side~1"])  # stops again
    assert state_files(pair)[0] == state_files(pair)[1] == {"CHERRY_PICK_HEAD", "MERGE_MSG"}
    pair.both(["checkout", "-q", "-f", "side"])  # a forced switch ends it too
    assert state_files(pair) == (set(), set())
    assert_same(pair)


def _long_status(pair: GitPair) -> None:
    """Long status alike, ids masked; git's --skip hint is not cof's (no --skip)."""
    g, c = pair.both(["status"])
    shown = [ln for ln in g.stdout.splitlines(keepends=True) if "--skip" not in ln]
    git = _IDS.sub(b"<id>", "".join(shown).replace('"git ', '"cof ').encode())
    assert _IDS.sub(b"<id>", c.stdout.encode()) == git, f"git:\n{g.stdout}cof:\n{c.stdout}"


def test_status_tells_of_a_stopped_pick_as_git_does(pair: GitPair) -> None:
    _history(pair)
    apply(pair, {"a.txt": lines("1", "2", "M", "4", "5")})
    commit_both(pair, "main a")
    pair.both(["cherry-pick", "side~1"])  # stops on a.txt
    _long_status(pair)
    assert "You are currently cherry-picking commit " in pair.cof("status").stdout
    pair.write("a.txt", lines("1", "2", "MS", "4", "5"))
    pair.both(["add", "a.txt"])
    _long_status(pair)  # all conflicts fixed; no unstage hint while cherry-picking
    pair.both(["cherry-pick", "--abort"])
    _long_status(pair)
    pair.both(["revert", "-n", "HEAD"])  # a revert keeps its unstage hint
    _long_status(pair)
    assert "You are currently reverting commit " in pair.cof("status").stdout
