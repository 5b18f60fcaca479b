"""``cof cherry-pick`` and ``cof revert`` run on git too: the same history in both,
then the same picks (one commit, several, ranges), compared for success versus
failure, the commits made (messages, authors, parents), HEAD's reflog, the files,
``status`` (long and porcelain), the series' todo list and what is left in ``.cof/``
(``.git/``) while stopped.

Differences from git, documented rather than matched:

- Conflict markers name the picked commit by 12 hex digits (git: 7); files are
  compared with ids masked. The series' todo names commits in full.
- The commit line is ``[BRANCH ID] SUMMARY`` with git's ``Author:``/``Date:`` lines
  but no diffstat; git's "Auto-merging" lines are not printed.
- Refusals are one line ``cof: ...``; a stop on conflicts prints git's ``error:``
  and ``hint:`` lines naming ``cof`` (``cof add``, where git says ``git add/rm``).
- No ``-e``, ``--ff``, strategies or ``A...B``; ``revert`` never opens an editor.
"""

from __future__ import annotations

import hashlib
import json
import re

from tests.integration.gitpair import GitPair, conflict_kinds, snapshot
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_merge_conflicts import apply, lines, pair

__all__ = ["pair"]  # fixture, used by name

_IDS = re.compile(rb"\b[0-9a-f]{7,64}\b")
BASE = lines("1", "2", "3", "4", "5")
MAIN_A = lines("1", "2", "M", "4", "5")  # conflicts with "side edit"
RESOLVED = lines("1", "2", "R", "4", "5")


def commit_all(pair: GitPair, message: str) -> None:
    pair.both(["add", "-A"])
    pair.both(["commit", "-q", "-m", message])


def _history(pair: GitPair) -> None:
    """main: base, "main b"; side: base, "side edit" (author A, 2001), "add c"."""
    apply(pair, {"a.txt": BASE, "b.txt": b"x\n"})
    commit_all(pair, "base")
    pair.both(["switch", "-q", "-c", "side"])
    apply(pair, {"a.txt": lines("1", "2", "S", "4", "5")})
    author = ["--author", "A <a@a>"]
    pair.git("commit", "-qam", "side edit", *author, "--date", "2001-01-01T00:00:00+0000")
    # cof has no --date: its author date is now; the test compares names only.
    pair.cof("commit", "-qam", "side edit", *author)
    apply(pair, {"c.txt": b"new\n"})
    commit_all(pair, "add c")
    pair.both(["switch", "-q", "main"])
    apply(pair, {"b.txt": b"y\n"})
    pair.both(["commit", "-qam", "main b"])


def _conflicting_history(pair: GitPair) -> None:
    """``_history``, and main changes a.txt where "side edit" does: "main a"."""
    _history(pair)
    apply(pair, {"a.txt": MAIN_A})
    pair.both(["commit", "-qam", "main a"])


def _masked(value: tuple[bytes, bool] | None) -> tuple[bytes, bool] | None:
    return None if value is None else (_IDS.sub(b"<id>", value[0]), value[1])


def _text(text: str) -> str:
    return _IDS.sub(b"<id>", text.encode()).decode()


def _as_cof(git_text: str) -> str:
    """git's words as cof says them: commands named ``cof``, ids masked."""
    for quote in ('"', "'", " "):
        git_text = git_text.replace(f"{quote}git ", f"{quote}cof ")
    return _text(git_text)


def _shape(commits: dict[str, tuple[str, list[str]]], head: str) -> str:
    """A digest of the history under ``head``: every commit's message (ids masked)
    and author, and the same of its parents, so two histories made by the same
    steps have the same shape whatever their ids."""
    memo: dict[str, str] = {}

    def shape(commit: str) -> str:
        if commit not in memo:
            described, parents = commits[commit]
            text = "\0".join([_text(described), *(shape(p) for p in parents)])
            memo[commit] = hashlib.sha256(text.encode()).hexdigest()
        return memo[commit]

    for commit in reversed(list(commits)):  # oldest first: parents before children
        shape(commit)
    return shape(head)


def history_shapes(pair: GitPair) -> tuple[str, str]:
    """(git, cof) shapes of HEAD's history."""
    out = pair.git("log", "--format=%H%x00%P%x00%an <%ae>%x00%B%x00%x01").stdout
    git: dict[str, tuple[str, list[str]]] = {}
    for record in out.split("\x01")[:-1]:
        commit, parents, author, message, _ = record.lstrip("\n").split("\0")
        git[commit] = (author + "\n" + message.rstrip("\n") + "\n", parents.split())
    logged = json.loads(pair.cof("log", "--json").stdout)
    cof = {c["id"]: (c["author"] + "\n" + c["message"], c["parents"]) for c in logged}
    return _shape(git, next(iter(git))), _shape(cof, logged[0]["id"])


def assert_same(pair: GitPair, reflog: int = 1, git_only: set[str] | None = None) -> None:
    """Same files (ids in conflict markers masked), branch line and porcelain status,
    history under HEAD, ``reflog`` newest reflog lines and state files (but
    ``git_only``)."""
    git_tree = {p: _masked(v) for p, v in snapshot(pair.git_root, ".git").items()}
    cof_tree = {p: _masked(v) for p, v in snapshot(pair.cof_root, ".cof").items()}
    assert cof_tree == git_tree
    g, c = pair.both(["status", "--porcelain", "-b"])
    assert c.stdout == g.stdout, f"git:\n{g.stdout}cof:\n{c.stdout}"
    git_shape, cof_shape = history_shapes(pair)
    assert cof_shape == git_shape, "different histories"
    if reflog:
        assert_same_reflog(pair, reflog)
    git_files, cof_files = state_files(pair)
    assert cof_files == git_files - (git_only or set())


def head_message(pair: GitPair, rev: str = "HEAD") -> str:
    """A commit's message in cof."""
    return str(json.loads(pair.cof("log", "-n", "1", "--json", rev).stdout)[0]["message"])


def reflog_tops(pair: GitPair, count: int = 1) -> tuple[list[str], list[str]]:
    """HEAD's newest ``count`` reflog messages in (git, cof), ids masked."""
    git = pair.git("reflog", "-n", str(count), "--format=%gs").stdout.splitlines()
    cof = pair.cof("reflog", "-n", str(count)).stdout.splitlines()
    return [_text(m) for m in git], [_text(line.split(": ", 1)[1]) for line in cof]


def assert_same_reflog(pair: GitPair, count: int = 1) -> None:
    git, cof = reflog_tops(pair, count)
    assert cof == git


def state_files(pair: GitPair) -> tuple[set[str], set[str]]:
    names = {"CHERRY_PICK_HEAD", "REVERT_HEAD", "MERGE_MSG", "MERGE_HEAD", "sequencer"}
    git = {n for n in names if (pair.git_root / ".git" / n).exists()}
    cof = {n for n in names if (pair.cof_root / ".cof" / n).exists()}
    return git, cof


def assert_state(pair: GitPair, expected: set[str]) -> None:
    git, cof = state_files(pair)
    assert git == expected, git
    assert cof == expected, cof


def todo(pair: GitPair) -> list[str]:
    """The series' todo list (ids masked), the same in both."""
    git = (pair.git_root / ".git/sequencer/todo").read_text()
    cof = (pair.cof_root / ".cof/sequencer/todo").read_text()
    assert _text(cof) == _text(git)
    return _text(cof).splitlines()


def commit_lines(out: str) -> list[str]:
    """The ``[BRANCH ID] SUMMARY`` and `` Author:`` lines of picks' output, ids
    masked, and whether a `` Date:`` line follows (the dates differ: cof has no
    ``commit --date``)."""
    shown = [line for line in out.splitlines() if line.startswith(("[", " Author:", " Date:"))]
    return [" Date:" if line.startswith(" Date:") else _text(line) for line in shown]


def same_after(pair: GitPair, args: list[str], reflog: int = 1) -> tuple[str, str]:
    """Run a command in both: the same state after it (``assert_same``) and the same
    commit lines printed; returns (git, cof) stdout."""
    g, c = pair.both(args)
    assert_same(pair, reflog)
    assert commit_lines(c.stdout) == commit_lines(g.stdout)
    return g.stdout, c.stdout


def _cof_id(pair: GitPair, rev: str) -> str:
    return pair.cof("rev-parse", rev).stdout.strip()


def _long_status(pair: GitPair) -> None:
    """Long status alike, ids masked, git's commands named cof."""
    g, c = pair.both(["status"])
    assert _text(c.stdout) == _as_cof(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"


def _stops_on_conflict(pair: GitPair, args: list[str], verb: str = "apply") -> None:
    g, c = pair.both(args)
    assert g.returncode == c.returncode == 1
    assert conflict_kinds(c.stdout) == conflict_kinds(g.stdout) == ["content"]
    error = next(line for line in g.stderr.splitlines() if line.startswith("error:"))
    assert f"error: could not {verb} " in c.stderr and _text(error) in _text(c.stderr)
    command = args[0]
    assert f'hint: You can instead skip this commit with "cof {command} --skip".' in c.stderr


# --- one commit ----------------------------------------------------------------------


def test_single_picks_commit_as_git_does(pair: GitPair) -> None:
    _history(pair)
    _, out = same_after(pair, ["cherry-pick", "-x", "side~1"])  # author A kept, committer T
    first, author = out.splitlines()[:2]
    assert re.fullmatch(r"\[main [0-9a-f]{12}\] side edit", first), out
    assert author == " Author: A <a@a>"
    assert head_message(pair).endswith(
        "(cherry picked from commit " + _cof_id(pair, "side~1") + ")\n"
    )
    pair.both(["cherry-pick", "-n", "side~1", "side"])  # staged, not committed
    assert_same(pair, git_only={"MERGE_MSG"})  # git leaves a MERGE_MSG nobody reads
    same_after(pair, ["commit", "-q", "-m", "add c"])
    # A merge, picked against its first parent: "side edit" is there, c.txt is new.
    pair.both(["reset", "-q", "--hard", "HEAD~2"])
    pair.both(["switch", "-q", "-c", "other", "HEAD~1"])
    pair.both(["merge", "-q", "--no-ff", "side", "-m", "merge side"])
    pair.both(["switch", "-q", "main"])
    same_after(pair, ["cherry-pick", "-m", "1", "-"])  # "-": the branch before, other


def test_single_pick_stops_continues_skips_aborts_as_git_does(pair: GitPair) -> None:
    _conflicting_history(pair)
    _stops_on_conflict(pair, ["cherry-pick", "side~1"])
    assert_same(pair)  # markers: HEAD and "<id> (side edit)"
    assert_state(pair, {"CHERRY_PICK_HEAD", "MERGE_MSG"})
    _long_status(pair)  # You are currently cherry-picking commit <id>, with --skip
    # Busy: another pick, a revert or --continue are refused until resolved.
    for args in (["cherry-pick", "side"], ["revert", "HEAD"], ["cherry-pick", "--continue"]):
        _, c = pair.both(args)
        assert_fails_one_line(c, "unmerged files")
    apply(pair, {"a.txt": RESOLVED})
    pair.both(["add", "a.txt"])
    _long_status(pair)  # all conflicts fixed; no unstage hint while cherry-picking
    same_after(pair, ["cherry-pick", "--continue"])  # "commit (cherry-pick)", author A
    _, c = pair.both(["cherry-pick", "--continue"])
    assert_fails_one_line(c, "no cherry-pick or revert in progress")
    # --skip puts HEAD's files back (untracked ones stay), logged as git's reset.
    pair.both(["reset", "-q", "--hard", "HEAD~1"])
    pair.both(["cherry-pick", "side~1"])
    pair.write("untracked.txt", b"u\n")
    pair.both(["cherry-pick", "--skip"])
    assert_same(pair)  # reflog: reset: moving to <id>
    assert_state(pair, set())
    # --abort: the same, after a clean pick (which stays).
    same_after(pair, ["cherry-pick", "side"])
    pair.both(["cherry-pick", "side~1"])
    pair.both(["cherry-pick", "--abort"])
    assert_same(pair, reflog=2)
    assert_state(pair, set())
    for action, error in (("--abort", "no cherry-pick or revert"), ("--skip", "no cherry-pick")):
        _, c = pair.both(["cherry-pick", action])
        assert_fails_one_line(c, f"{error} in progress")
    pair.both(["cherry-pick", "--quit"])  # nothing to forget: no error, as git


def test_cherry_pick_refusals_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["merge", "-q", "--no-ff", "side", "-m", "mm"])
    for command in ("cherry-pick", "revert"):
        _, c = pair.both([command, "HEAD"])
        assert_fails_one_line(c, "is a merge but no -m option was given")
        _, c = pair.both([command, "side", "-m", "2"])
        assert_fails_one_line(c, "does not have parent 2")
        _, c = pair.both([command, "nope"])
        assert_fails_one_line(c, "nope")
        _, c = pair.both([command, "main..main"])
        assert_fails_one_line(c, "empty commit set passed")
        _, c = pair.both([command, "--continue", "side"])
        assert_fails_one_line(c, "give commits, or one of --continue")
    pair.both(["reset", "-q", "--hard", "HEAD~1"])
    apply(pair, {"a.txt": b"dirty\n"})  # touched by the pick: refused
    _, c = pair.both(["cherry-pick", "side~1"])
    assert_fails_one_line(c, "would be overwritten")
    pair.both(["add", "a.txt"])  # staged: refused
    _, c = pair.both(["cherry-pick", "side"])
    assert_fails_one_line(c, "your local changes would be overwritten by cherry-pick")
    pair.both(["reset", "-q", "--hard"])
    apply(pair, {"b.txt": b"local\n"})  # untouched by the pick: kept
    same_after(pair, ["cherry-pick", "side~1"])


def test_a_stopped_pick_blocks_merge_and_ends_with_reset_or_checkout_as_git_does(
    pair: GitPair,
) -> None:
    _conflicting_history(pair)
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
    assert_state(pair, set())
    assert_same(pair)
    pair.both(["cherry-pick", "side~1"])  # stops again
    assert_state(pair, {"CHERRY_PICK_HEAD", "MERGE_MSG"})
    pair.both(["checkout", "-q", "-f", "side"])  # a forced switch ends it too
    assert_state(pair, set())
    assert_same(pair)


def test_revert_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["merge", "-q", "side", "-m", "merge side"])
    same_after(pair, ["revert", "HEAD~1"])  # 'Revert "main b"' / "This reverts commit"
    assert head_message(pair) == (
        f'Revert "main b"\n\nThis reverts commit {_cof_id(pair, "HEAD~2")}.\n'
    )
    same_after(pair, ["revert", "--no-edit", "-s", "HEAD"])  # Revert "Revert ...", signed
    assert head_message(pair).endswith(".\n\nSigned-off-by: T <t@e>\n")
    same_after(pair, ["revert", "-m", "1", "HEAD~2"])  # a merge: ", reversing changes"
    pair.both(["revert", "-n", "HEAD"])
    assert_same(pair)
    assert_state(pair, {"REVERT_HEAD", "MERGE_MSG"})
    _long_status(pair)  # You are currently reverting commit <id>, with the unstage hint
    same_after(pair, ["revert", "--continue"])
    # A conflict: "main a" reverted after "main again" changed the same line.
    apply(pair, {"a.txt": MAIN_A})
    commit_all(pair, "main a")
    apply(pair, {"a.txt": RESOLVED})
    commit_all(pair, "main again")
    _stops_on_conflict(pair, ["revert", "HEAD~1"], "revert")
    assert_same(pair)  # markers: HEAD and "parent of <id> (main a)"
    assert_state(pair, {"REVERT_HEAD", "MERGE_MSG"})
    pair.both(["revert", "--abort"])
    pair.both(["revert", "HEAD~1"])
    apply(pair, {"a.txt": BASE})
    pair.both(["add", "a.txt"])
    same_after(pair, ["revert", "--continue"])  # author T, reflog "commit: Revert ..."


# --- series ----------------------------------------------------------------------------


def test_range_stops_and_continues_as_git_does(pair: GitPair) -> None:
    _conflicting_history(pair)
    g, c = pair.both(["cherry-pick", "main..side"])  # oldest first: "side edit" stops
    assert g.returncode == c.returncode == 1
    assert commit_lines(c.stdout) == commit_lines(g.stdout) == []
    assert_state(pair, {"CHERRY_PICK_HEAD", "MERGE_MSG", "sequencer"})
    assert todo(pair) == ["pick <id> side edit", "pick <id> add c"]
    _long_status(pair)  # "Cherry-pick currently in progress." (git names no commit)
    _, c = pair.both(["cherry-pick", "side~1", "side"])
    assert_fails_one_line(c, "cherry-pick is already in progress")
    apply(pair, {"a.txt": RESOLVED})
    pair.both(["add", "a.txt"])
    _long_status(pair)
    _, out = same_after(pair, ["cherry-pick", "--continue"], reflog=2)
    picks = ["[main <id>] side edit", " Author: A <a@a>", " Date:", "[main <id>] add c", " Date:"]
    assert commit_lines(out) == picks
    assert_state(pair, set())
    # The same as a list (in the order given), concluded by a commit mid-series: the
    # series waits for --continue, then goes on.
    pair.both(["reset", "-q", "--hard", "HEAD~2"])
    pair.both(["cherry-pick", "side~1", "side"])
    apply(pair, {"a.txt": RESOLVED})
    pair.both(["add", "a.txt"])
    same_after(pair, ["commit", "-q", "-m", "mine"])  # keeps the picked author, A
    assert_state(pair, {"sequencer"})
    _long_status(pair)  # run "cof cherry-pick --continue" to continue
    apply(pair, {"n.txt": b"n\n"})
    pair.both(["add", "n.txt"])
    _long_status(pair)  # between picks: git's unstage hint is back
    pair.both(["rm", "-q", "--cached", "n.txt"])
    same_after(pair, ["cherry-pick", "--continue"])
    assert_state(pair, set())
    # A commit that concludes the series' last pick ends the series.
    pair.both(["reset", "-q", "--hard", "HEAD~2"])
    pair.both(["cherry-pick", "side", "side~1"])  # "add c", then "side edit" stops
    pair.both(["add", "a.txt"])
    pair.both(["commit", "-q", "-m", "last"])
    assert_state(pair, set())
    # reset ends a series stopped at its last pick (git's remove_branch_state), and
    # leaves one with picks to go for --continue.
    pair.both(["reset", "-q", "--hard", "HEAD~2"])
    pair.both(["cherry-pick", "side", "side~1"])
    pair.both(["reset", "-q", "--hard"])
    assert_state(pair, set())
    pair.both(["cherry-pick", "main..side"])
    pair.both(["reset", "-q", "--hard"])
    assert_state(pair, {"sequencer"})
    assert_same(pair)


def test_series_skip_abort_quit_as_git_does(pair: GitPair) -> None:
    _conflicting_history(pair)
    pair.both(["cherry-pick", "^main", "side"])  # stops at "side edit"
    pair.write("untracked.txt", b"u\n")
    same_after(pair, ["cherry-pick", "--skip"], reflog=3)  # reset, then "add c"
    assert_state(pair, set())
    # --skip to a pick that is empty ("add c" is there): it stops again.
    pair.both(["cherry-pick", "side~1", "side"])  # "side edit" stops
    _, c = pair.both(["revert", "--continue"])
    assert_fails_one_line(c, "cannot revert during a cherry-pick")
    g, c = pair.both(["cherry-pick", "--skip"])
    assert c.stderr == _as_cof(g.stderr) and "is now empty" in c.stderr
    assert _text(c.stdout) == _as_cof(g.stdout)  # Cherry-pick currently in progress.
    assert_state(pair, {"CHERRY_PICK_HEAD", "MERGE_MSG", "sequencer"})
    pair.both(["cherry-pick", "--abort"])
    # --abort goes back to HEAD before the series, over the picks it made.
    pair.both(["reset", "-q", "--hard", "HEAD~1"])
    pair.both(["cherry-pick", "side", "side~1"])  # "add c", then "side edit" stops
    pair.both(["cherry-pick", "--abort"])
    assert_same(pair, reflog=2)
    assert_state(pair, set())
    # --abort after HEAD moved: a warning, HEAD stays; --skip has nothing to skip.
    pair.both(["cherry-pick", "main..side"])
    apply(pair, {"a.txt": RESOLVED})
    pair.both(["add", "a.txt"])
    pair.both(["commit", "-q", "-m", "mine"])
    _, c = pair.both(["cherry-pick", "--skip"])
    assert_fails_one_line(c, "there is nothing to skip")
    g, c = pair.both(["cherry-pick", "--abort"])
    assert c.stderr == g.stderr.replace("git", "cof")  # You seem to have moved HEAD
    assert_state(pair, set())
    assert_same(pair)
    # --quit forgets the series, keeps the conflict and HEAD.
    pair.both(["reset", "-q", "--hard", "HEAD~1"])
    pair.both(["cherry-pick", "main..side"])
    pair.both(["cherry-pick", "--quit"])
    assert_state(pair, set())
    assert_same(pair)
    _long_status(pair)


def test_revert_range_and_empty_picks_as_git_does(pair: GitPair) -> None:
    _history(pair)
    pair.both(["switch", "-q", "side"])
    _, out = same_after(pair, ["revert", "side~2..side"], reflog=2)  # newest first
    reverts = ['[side <id>] Revert "add c"', " Date:", '[side <id>] Revert "side edit"', " Date:"]
    assert commit_lines(out) == reverts
    # An already reverted commit in a series: git stops (status, exit 1) and leaves
    # no REVERT_HEAD; --continue drops it.
    g, c = pair.both(["revert", "side~2", "side~4"])  # "add c" again, then "base"
    assert g.returncode == c.returncode == 1
    assert _text(c.stdout) == _as_cof(g.stdout) and c.stderr == g.stderr == ""
    assert_state(pair, {"MERGE_MSG", "sequencer"})
    same_after(pair, ["revert", "--continue"])  # Revert "base"
    # A cherry-pick that is empty ("Revert "add c"" again): git's status and advice;
    # --keep-redundant-commits commits it anyway.
    pair.both(["reset", "-q", "--hard", "HEAD~1"])
    g, c = pair.both(["cherry-pick", "side~1"])
    assert _text(c.stdout) == _as_cof(g.stdout) and c.stderr == _as_cof(g.stderr)
    assert "The previous cherry-pick is now empty" in c.stderr
    assert_state(pair, {"CHERRY_PICK_HEAD", "MERGE_MSG"})
    _, c = pair.both(["cherry-pick", "--continue"])  # still empty: stops again
    assert "The previous cherry-pick is now empty" in c.stderr
    pair.both(["cherry-pick", "--abort"])
    same_after(pair, ["cherry-pick", "--keep-redundant-commits", "side~1", "side~3"], reflog=2)


def test_signoff_x_and_allow_empty_as_git_does(pair: GitPair) -> None:
    """Empty commits with messages that end in trailers (or do not), picked with -s -x:
    git's placement of both trailers."""
    apply(pair, {"a.txt": BASE})
    commit_all(pair, "base")
    pair.both(["switch", "-q", "-c", "side"])
    messages = [
        ["plain"],
        ["signed", "-m", "body", "-m", "Signed-off-by: T <t@e>"],
        ["reviewed", "-m", "Reviewed-by: X <x@x>\nSigned-off-by: T <t@e>"],
        ["mixed", "-m", "Fixes: a thing\nnot a trailer\nnor this"],
    ]
    for message in messages:
        pair.both(["commit", "-q", "--allow-empty", "-m", *message])
    pair.both(["switch", "-q", "main"])
    g, c = pair.both(["cherry-pick", "-s", "side~4..side"])  # empty: stops at the first
    assert c.returncode == 1 and c.stderr == _as_cof(g.stderr)
    assert todo(pair)[0] == "pick <id> plain"
    pair.both(["cherry-pick", "--abort"])
    same_after(pair, ["cherry-pick", "--allow-empty", "-s", "side~4..side~2"], reflog=2)
    same_after(pair, ["cherry-pick", "--allow-empty", "-x", "-s", "side~2..side"], reflog=2)
    assert head_message(pair).endswith(")\nSigned-off-by: T <t@e>\n")  # under -x's line


def test_series_failure_keeps_the_series_and_gc_its_commits(pair: GitPair) -> None:
    """A pick that fails (a merge without -m) leaves the series at it, as git; gc
    keeps what the series still has to pick though nothing else names it."""
    _history(pair)
    pair.both(["switch", "-q", "-c", "topic", "main~1"])
    apply(pair, {"t.txt": b"t\n"})
    commit_all(pair, "t")
    pair.both(["merge", "-q", "--no-ff", "side", "-m", "merge side"])
    apply(pair, {"q.txt": b"q\n"})
    commit_all(pair, "q")
    pair.both(["switch", "-q", "main"])
    g, c = pair.both(["cherry-pick", "side..topic"])  # t, then the merge fails
    assert commit_lines(c.stdout) == commit_lines(g.stdout) == ["[main <id>] t", " Date:"]
    assert c.stderr.startswith("cof: ") and "is a merge but no -m option" in c.stderr
    assert_state(pair, {"sequencer"})
    assert todo(pair) == ["pick <id> merge side", "pick <id> q"]
    q = _cof_id(pair, "topic")
    pair.both(["branch", "-D", "topic"])
    pair.cof("reflog", "expire", "--expire=now", "--all")
    pair.cof("gc", "--prune=now")
    assert pair.cof("show", "--json", q).returncode == 0
    same_after(pair, ["cherry-pick", "--skip"], reflog=2)  # past the merge: "q"
