"""Differential test of history commands: branch, checkout, merge, tag against git.

A hypothesis state machine applies the same random operations to a cof repository
(the real CLI and daemon) and a git repository side by side (see ``gitpair`` for
git's options): write, edit, delete and chmod files (text files of unique lines, so
every diff aligns one way only, and small binary files holding a NUL byte);
``add PATH``, ``add -A``, ``commit``; ``branch NAME``, ``branch -d/-D NAME``;
``checkout BRANCH`` (clean switches, switches carrying local changes along, and
switches both tools must refuse because local changes are in the way),
``checkout -b NAME``, ``checkout TAG`` (detached HEAD); ``merge BRANCH
[--no-ff]`` (fast-forward, clean three-way, and conflicting: same-line text edits,
binary files modified on both sides, modify/delete, add/add); resolving a conflict
with ``checkout --ours|--theirs PATH`` or by writing the file, then ``add`` (or
``rm``), and concluding with ``commit`` or ``merge --continue``, or abandoning it
with ``merge --abort``; ``tag NAME``, ``tag -d NAME``.

After every step:

- both work trees hold the same paths (files and directories), bytes and exec bits;
- ``status --porcelain`` prints the same lines (including the unmerged codes);
- every command succeeded in cof exactly when it did in git; a merge stopped on
  conflicts (exit 1) in both or in neither, naming the same conflict kinds;
- HEAD, the current branch and every branch point at corresponding commits (cof's
  commits are matched to git's by the order they were created).

After each step that creates commits, the commits reachable from HEAD have the same
parent structure in both (``log`` shapes: count and parent lists, mapped by
creation order). Output order is not compared: both order ``log`` by commit time
with one-second resolution, and commits made within one second may legitimately
come out in a different order; ``test_merge_conflicts`` compares a ``--graph``
shape where commit times are distinct.

Things git does that cof deliberately does not, kept out of the random test:

- rename detection (``status.renames``, ``diff.renames``, ``merge.renames`` are off
  in git): cof merges per path, so a moved file is a deletion plus an addition.
- file/directory conflicts (one side has a file ``x``, the other ``x/y``): both
  move the file aside to ``x~<side>``; ``test_merge_conflicts`` checks that cof
  matches git there. The random file names never collide with directory names, so
  the random test does not produce them.
- conflict and progress messages: only the ``CONFLICT (kind)`` tags are compared.
"""

from __future__ import annotations

import itertools
import shutil

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.hypothesis_profiles import budget
from tests.integration.conftest import make_sandbox
from tests.integration.gitpair import GitPair, conflict_kinds

# Few names, so that branches touch the same files and merges conflict often.
FILE_NAMES = ("a.txt", "b.txt", "d/c.txt", "img.bin", "d/e/raw")
BRANCHES = ("main", "b1", "b2", "b3")
TAGS = ("t1", "t2")
TEXT_LINES = 4
# A change to one file: (path, kind, line). "text"/"binary" write a new file (or
# replace one); "edit" replaces line ``line`` of a text file, "append" adds one.
KINDS = ("text", "binary", "edit", "edit", "append", "delete", "chmod")
CHANGE = st.tuples(st.sampled_from(FILE_NAMES), st.sampled_from(KINDS), st.integers(0, 5))


class HistoryVersusGit(RuleBasedStateMachine):
    def __init__(self, pair: GitPair) -> None:
        super().__init__()
        self.pair = pair
        self.fresh = itertools.count()
        self.commits = 0
        # An initial commit on main, so branches and checkouts have a start.
        for name in ("a.txt", "img.bin"):
            pair.write(name, self.content(name, binary=name.endswith(".bin")))
        pair.both(["add", "-A"])
        self.commit_both()

    def teardown(self) -> None:
        shutil.rmtree(self.pair.git_root, ignore_errors=True)
        shutil.rmtree(self.pair.cof_root, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------

    def content(self, path: str, binary: bool) -> bytes:
        n = next(self.fresh)
        if binary:
            return f"\0{path}-{n}\0".encode() * 3
        return "".join(f"{path}-{n}-{k}\n" for k in range(TEXT_LINES)).encode()

    def read(self, path: str) -> bytes:
        return (self.pair.git_root / path).read_bytes()

    def tracked(self) -> list[str]:
        out = self.pair.git("ls-files", "-z").stdout
        return sorted({p for p in out.split("\0") if p})

    def tags(self) -> list[str]:
        return self.pair.git("tag", "--list").stdout.split()

    def commit_both(self) -> None:
        self.commits += 1
        message = f"commit {self.commits}"
        g, c = self.pair.both(["commit", "-q", "-m", message], ["commit", "-q", "-m", message])
        if g.returncode == 1:
            assert c.returncode == 1, "git: nothing to commit, cof: " + c.stderr
        self.pair.sync_refs()
        if g.returncode == 0:
            self.pair.assert_same_graph()

    def draw(self, data: st.DataObject, items: list[str] | tuple[str, ...], label: str) -> str:
        return data.draw(st.sampled_from(sorted(items)), label=label)

    # --- files -------------------------------------------------------------------------

    def change(self, path: str, kind: str, line: int) -> None:
        """One change to ``path`` in both work trees (see ``CHANGES``)."""
        exists = (self.pair.git_root / path).is_file()
        old = self.read(path) if exists else b""
        if kind in ("edit", "append") and (not exists or b"\0" in old):
            kind = "text"  # nothing to edit line by line: write a new text file
        if kind == "text" or kind == "binary":
            self.pair.write(path, self.content(path, binary=kind == "binary"))
        elif kind == "edit":
            lines = old.splitlines(keepends=True) or [b""]
            lines[line % len(lines)] = f"{path}-{next(self.fresh)}-edit\n".encode()
            self.pair.write(path, b"".join(lines))
        elif kind == "append":
            self.pair.write(path, old + f"{path}-{next(self.fresh)}-tail\n".encode())
        elif exists and kind == "delete":
            self.pair.delete(path)
        elif exists and kind == "chmod":
            executable = not (self.pair.git_root / path).stat().st_mode & 0o100
            self.pair.chmod(path, executable)

    @rule(change=CHANGE)
    def change_file(self, change: tuple[str, str, int]) -> None:
        self.change(*change)

    @rule(changes=st.lists(CHANGE, min_size=1, max_size=3))
    def commit_changes(self, changes: list[tuple[str, str, int]]) -> None:
        for change in changes:
            self.change(*change)
        self.pair.both(["add", "-A"])
        self.commit_both()

    @precondition(lambda self: not self.pair.merging())
    @rule(
        ours=st.lists(CHANGE, min_size=1, max_size=3),
        theirs=st.lists(CHANGE, min_size=1, max_size=3),
        merge=st.booleans(),
    )
    def diverge(
        self,
        ours: list[tuple[str, str, int]],
        theirs: list[tuple[str, str, int]],
        merge: bool,
    ) -> None:
        """``checkout -b NEW``, commit THEIRS there, go back, commit OURS (and merge
        NEW): two lines of history touching the same few files. Stops at the first
        command that fails (in both)."""
        name = f"topic{next(self.fresh)}"
        branch, head, _ = self.pair.git_refs()
        back = branch or self.pair.cof_of[head or ""]
        g, _ = self.pair.both(["checkout", "-q", "-b", name], ["checkout", "-b", name])
        self.pair.sync_refs()
        if g.returncode != 0:
            return
        self.commit_changes(theirs)
        git_back = branch or head or ""
        g, _ = self.pair.both(["checkout", "-q", git_back], ["checkout", back])
        self.pair.sync_refs()
        if g.returncode != 0:
            return
        self.commit_changes(ours)
        if merge:
            self.merge(name, no_ff=False)

    # --- staging and committing ----------------------------------------------------------

    @precondition(lambda self: self.pair.files() or self.tracked())
    @rule(data=st.data())
    def add_path(self, data: st.DataObject) -> None:
        path = self.draw(data, set(self.pair.files()) | set(self.tracked()), "path")
        self.pair.both(["add", "--", path], ["add", path])

    @rule()
    def add_all(self) -> None:
        self.pair.both(["add", "-A"])

    @rule()
    def commit(self) -> None:
        self.commit_both()

    # --- branches and tags -------------------------------------------------------------

    @rule(name=st.sampled_from(BRANCHES))
    def branch(self, name: str) -> None:
        self.pair.both(["branch", name])
        self.pair.sync_refs()

    @rule(name=st.sampled_from(BRANCHES), force=st.booleans())
    def branch_delete(self, name: str, force: bool) -> None:
        self.pair.both(["branch", "-D" if force else "-d", name])
        self.pair.sync_refs()

    @rule(data=st.data())
    def checkout(self, data: st.DataObject) -> None:
        name = self.draw(data, set(BRANCHES) | set(self.pair.git_refs()[2]), "branch")
        self.pair.both(["checkout", "-q", name], ["checkout", name])
        self.pair.sync_refs()

    @rule(name=st.sampled_from(BRANCHES))
    def checkout_new_branch(self, name: str) -> None:
        self.pair.both(["checkout", "-q", "-b", name], ["checkout", "-b", name])
        self.pair.sync_refs()

    @precondition(lambda self: self.tags())
    @rule(data=st.data())
    def checkout_tag(self, data: st.DataObject) -> None:
        name = self.draw(data, self.tags(), "tag")
        self.pair.both(["checkout", "-q", name], ["checkout", name])
        self.pair.sync_refs()

    @rule(name=st.sampled_from(TAGS))
    def tag(self, name: str) -> None:
        self.pair.both(["tag", name])

    @rule(name=st.sampled_from(TAGS))
    def tag_delete(self, name: str) -> None:
        self.pair.both(["tag", "-d", name])

    # --- merging -----------------------------------------------------------------------

    @rule(data=st.data(), no_ff=st.booleans())
    def merge_branch(self, data: st.DataObject, no_ff: bool) -> None:
        self.merge(self.draw(data, set(BRANCHES) | set(self.pair.git_refs()[2]), "branch"), no_ff)

    def merge(self, name: str, no_ff: bool) -> None:
        flags = ["--no-ff"] if no_ff else []
        g = self.pair.git("merge", *flags, name, check=False)
        c = self.pair.cof("merge", *flags, name, check=False)
        outcome = {0: "merged", 1: "conflicts"}
        # git also exits 1 for a name it cannot resolve; only a stopped merge says this.
        stopped = "Automatic merge failed" in g.stdout
        g_outcome = "conflicts" if stopped else "merged" if g.returncode == 0 else "refused"
        c_outcome = outcome.get(c.returncode, "refused")
        assert g_outcome == c_outcome, (
            f"git merge {name}: {g_outcome} ({(g.stdout + g.stderr).strip()!r}); "
            f"cof: {c_outcome} ({(c.stdout + c.stderr).strip()!r})"
        )
        if g_outcome == "conflicts":
            assert conflict_kinds(c.stdout) == conflict_kinds(g.stdout), (
                f"git:\n{g.stdout}cof:\n{c.stdout}"
            )
        self.pair.sync_refs()
        if g_outcome == "merged":
            self.pair.assert_same_graph()

    @precondition(lambda self: self.pair.merging())
    @rule()
    def merge_abort(self) -> None:
        self.pair.both(["merge", "--abort"])
        self.pair.sync_refs()

    @precondition(lambda self: self.pair.merging())
    @rule()
    def merge_continue(self) -> None:
        g, _ = self.pair.both(["merge", "--continue"])
        self.pair.sync_refs()
        if g.returncode == 0:
            self.pair.assert_same_graph()

    @precondition(lambda self: self.pair.unmerged())
    @rule(data=st.data(), side=st.sampled_from(["--ours", "--theirs"]))
    def resolve_with_side(self, data: st.DataObject, side: str) -> None:
        path = self.draw(data, self.pair.unmerged(), "path")
        g, _ = self.pair.both(["checkout", side, "--", path], ["checkout", side, path])
        if g.returncode == 0:
            self.pair.both(["add", "--", path], ["add", path])

    @precondition(lambda self: self.pair.unmerged())
    @rule(data=st.data(), binary=st.booleans())
    def resolve_by_writing(self, data: st.DataObject, binary: bool) -> None:
        path = self.draw(data, self.pair.unmerged(), "path")
        self.pair.write(path, self.content(path, binary))
        self.pair.both(["add", "--", path], ["add", path])

    @precondition(lambda self: self.pair.unmerged())
    @rule(data=st.data())
    def resolve_by_removing(self, data: st.DataObject) -> None:
        path = self.draw(data, self.pair.unmerged(), "path")
        self.pair.both(["rm", "-q", "--", path], ["rm", path])

    # --- after every step ------------------------------------------------------------

    @invariant()
    def same_work_trees(self) -> None:
        self.pair.assert_same_tree()

    @invariant()
    def same_status(self) -> None:
        self.pair.assert_same_status()


def test_history_matches_git() -> None:
    sandbox = make_sandbox()
    counter = itertools.count()
    try:
        run_state_machine_as_test(
            lambda: HistoryVersusGit(GitPair(sandbox, f"r{next(counter)}")),
            settings=settings(
                max_examples=budget(ci=5, long=300),
                stateful_step_count=budget(ci=15, long=50),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            ),
        )
    finally:
        sandbox.stop_daemon()
        shutil.rmtree(sandbox.base, ignore_errors=True)
