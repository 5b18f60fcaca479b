"""Differential test: ``cof status --porcelain`` against the real ``git`` binary.

A hypothesis state machine applies the same random operations to a git work tree
and a cof work tree side by side: new files (text or binary; empty, one block,
block plus one, up to three blocks), modifications (including same-size rewrites in
the same clock tick as the preceding ``add``: the racily-clean case), deletions,
``chmod +x/-x``, files in new nested directories, directories holding only untracked
files, ``add PATH``, ``add -A``, ``rm [--cached] PATH``, ``commit``,
``restore [--staged] PATH``. After every step both porcelain outputs must be equal,
both work trees must hold the same bytes and modes, and every command must succeed
in cof exactly when it succeeds in git (commit: git's "nothing to commit" is exit 1,
and cof must exit 1 too). After each commit both logs must have as many commits.

git runs through ``gitpair.GitPair`` (see ``gitpair.GIT_OPTIONS``), which sets:

- ``status.renames=false``: cof does not detect renames; it reports a moved file as
  its old path deleted (``D``) and its new path added (``A``), which is what git
  prints with rename detection off.
- ``core.fileMode=true``: cof always records the exec bit, so git must compare it.
- no user or system configuration (``GIT_CONFIG_GLOBAL``, ``GIT_CONFIG_NOSYSTEM``),
  so nothing on this machine (excludes files, ``status.showUntrackedFiles``,
  ``core.quotePath``) changes git's output.

Deliberate differences, not exercised:

- ``restore --staged`` before the first commit: git fails ("could not resolve
  HEAD"); cof treats the missing HEAD as an empty tree and unstages the path. The
  step is only taken once a commit exists.
- Exit codes: only success versus failure is compared (cof has its own codes, e.g.
  5 for a bad path where git exits 128 or 1); commit's "nothing to commit" is
  compared exactly because it is exit 1 in both.
"""

from __future__ import annotations

import itertools
import random
import shutil

import pytest
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
from tests.integration.conftest import CofSandbox, make_sandbox
from tests.integration.gitpair import GitPair, snapshot

BLOCK = 4096
AUTHOR = "Diff Test <diff@example.com>"

# File and directory names come from disjoint pools, so a new file never collides
# with a directory of the same name. Spaces and UTF-8 exercise git's path quoting.
FILE_NAMES = ("a", "b.bin", "c d", "é.txt", "z")
DIR_NAMES = ("", "d", "d/e", "日 本", "d/e/f")
SIZES = st.one_of(
    st.sampled_from([0, 1, BLOCK, BLOCK + 1, 3 * BLOCK]),
    st.integers(2, 3 * BLOCK),
)


def content(seed: int, size: int, text: bool) -> bytes:
    rng = random.Random(seed)
    if not text:
        return rng.randbytes(size)
    alphabet = b"abcdefghij \n"
    return bytes(rng.choice(alphabet) for _ in range(size))


def other_content_same_size(old: bytes, seed: int) -> bytes:
    """Different bytes of the same length (for empty files there are none)."""
    if not old:
        return old
    new = bytearray(content(seed, len(old), text=False))
    if new == old:
        new[0] ^= 0xFF
    return bytes(new)


class GitVersusCof(RuleBasedStateMachine):
    def __init__(self, sandbox: CofSandbox, n: int) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.pair = GitPair(sandbox, f"s{n}")
        self.git_root = self.pair.git_root
        self.cof_root = self.pair.cof_root
        self.fresh = itertools.count()
        self.commits = 0

    def teardown(self) -> None:
        shutil.rmtree(self.git_root, ignore_errors=True)
        shutil.rmtree(self.cof_root, ignore_errors=True)

    # --- the work trees ----------------------------------------------------------

    def files(self) -> list[str]:
        """Regular files in the (git) work tree, sorted."""
        return self.pair.files()

    def dirs(self) -> list[str]:
        """Directories in the (git) work tree, sorted."""
        return sorted(p for p, v in snapshot(self.git_root, ".git").items() if v is None)

    def tracked(self) -> list[str]:
        out = self.pair.git("ls-files", "-z").stdout
        return sorted(p for p in out.split("\0") if p)

    def in_head(self) -> list[str]:
        if not self.commits:
            return []
        out = self.pair.git("ls-tree", "-r", "-z", "--name-only", "HEAD").stdout
        return sorted(p for p in out.split("\0") if p)

    def draw_content(self, data: st.DataObject) -> bytes:
        size = data.draw(SIZES, label="size")
        seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
        return content(seed, size, text=data.draw(st.booleans(), label="text"))

    def draw_path(self, data: st.DataObject, candidates: list[str], label: str) -> str:
        return data.draw(st.sampled_from(candidates), label=label)

    # --- operations on files -------------------------------------------------------

    @rule(data=st.data())
    def write_file(self, data: st.DataObject) -> None:
        directory = data.draw(st.sampled_from(DIR_NAMES), label="dir")
        name = data.draw(st.sampled_from(FILE_NAMES), label="name")
        self.pair.write(f"{directory}/{name}" if directory else name, self.draw_content(data))

    @precondition(lambda self: self.files())
    @rule(data=st.data(), same_size=st.booleans())
    def modify_file(self, data: st.DataObject, same_size: bool) -> None:
        path = self.draw_path(data, self.files(), "path")
        if same_size:
            old = (self.git_root / path).read_bytes()
            new = other_content_same_size(old, data.draw(st.integers(0, 2**32 - 1)))
        else:
            new = self.draw_content(data)
        self.pair.write(path, new)

    @precondition(lambda self: self.files())
    @rule(data=st.data())
    def delete_file(self, data: st.DataObject) -> None:
        path = self.draw_path(data, self.files(), "path")
        self.pair.delete(path)

    @precondition(lambda self: self.files())
    @rule(data=st.data(), executable=st.booleans())
    def chmod_file(self, data: st.DataObject, executable: bool) -> None:
        path = self.draw_path(data, self.files(), "path")
        self.pair.chmod(path, executable)

    @rule(data=st.data())
    def file_in_new_nested_dir(self, data: st.DataObject) -> None:
        k = next(self.fresh)
        name = data.draw(st.sampled_from(FILE_NAMES), label="name")
        self.pair.write(f"n{k}/m{k}/{name}", self.draw_content(data))

    @rule(data=st.data(), count=st.integers(1, 3))
    def untracked_dir(self, data: st.DataObject, count: int) -> None:
        k = next(self.fresh)
        for name in FILE_NAMES[:count]:
            self.pair.write(f"u{k}/{name}", self.draw_content(data))

    # --- commands ---------------------------------------------------------------

    def pathspecs(self) -> list[str]:
        return sorted(set(self.files()) | set(self.dirs()) | set(self.tracked()))

    @precondition(lambda self: self.pathspecs())
    @rule(data=st.data())
    def add_path(self, data: st.DataObject) -> None:
        path = self.draw_path(data, self.pathspecs(), "path")
        self.pair.both(["add", "--", path], ["add", path])

    @rule()
    def add_all(self) -> None:
        self.pair.both(["add", "-A"], ["add", "-A"])

    @precondition(lambda self: self.files())
    @rule(data=st.data())
    def add_then_rewrite_same_size(self, data: st.DataObject) -> None:
        """The racily-clean case: the file changes right after it was hashed, keeping
        its size (and, within one clock tick, its mtime)."""
        path = self.draw_path(data, self.files(), "path")
        new = other_content_same_size(
            (self.git_root / path).read_bytes(), data.draw(st.integers(0, 2**32 - 1))
        )
        self.add_then_rewrite(path, new)

    def add_then_rewrite(self, path: str, new: bytes) -> None:
        for root, run in ((self.git_root, self.pair.git), (self.cof_root, self.pair.cof)):
            run("add", path)
            with (root / path).open("r+b") as fh:  # same inode, same size
                fh.write(new)

    @precondition(lambda self: self.tracked())
    @rule(data=st.data(), cached=st.booleans())
    def rm_path(self, data: st.DataObject, cached: bool) -> None:
        # Mostly tracked files; sometimes a directory (both must refuse without -r).
        if self.dirs() and data.draw(st.integers(0, 4), label="pick dir") == 0:
            path = self.draw_path(data, self.dirs(), "path")
        else:
            path = self.draw_path(data, self.tracked(), "path")
        self.rm(path, cached)

    def rm(self, path: str, cached: bool) -> None:
        flag = ["--cached"] if cached else []
        self.pair.both(["rm", "-q", *flag, "--", path], ["rm", *flag, path])

    @rule()
    def commit(self) -> None:
        message = f"commit {self.commits + 1}"
        g = self.pair.git("commit", "-q", "-m", message, check=False)
        c = self.pair.cof("commit", "-q", "-m", message, "--author", AUTHOR, check=False)
        assert g.returncode in (0, 1), g.stderr
        assert c.returncode == g.returncode, (
            f"git commit exited {g.returncode} ({g.stdout.strip()!r}) but cof commit "
            f"exited {c.returncode} ({c.stderr.strip()!r})"
        )
        if g.returncode == 0:
            self.commits += 1
        git_log = self.pair.git("log", "--oneline").stdout.splitlines() if self.commits else []
        cof_log = self.pair.cof("log", "--oneline").stdout.splitlines() if self.commits else []
        assert len(git_log) == len(cof_log) == self.commits

    @precondition(lambda self: self.commits and self.pathspecs())
    @rule(data=st.data())
    def restore_staged(self, data: st.DataObject) -> None:
        path = self.draw_path(data, sorted(set(self.pathspecs()) | set(self.in_head())), "path")
        self.pair.both(["restore", "--staged", "--", path], ["restore", "--staged", path])

    @precondition(lambda self: self.pathspecs())
    @rule(data=st.data())
    def restore_worktree(self, data: st.DataObject) -> None:
        path = self.draw_path(data, self.pathspecs(), "path")
        self.pair.both(["restore", "--", path], ["restore", path])

    # --- after every step ----------------------------------------------------------

    @invariant()
    def same_status(self) -> None:
        self.pair.assert_same_status()

    @invariant()
    def same_work_trees(self) -> None:
        self.pair.assert_same_tree()


def test_status_porcelain_matches_git() -> None:
    sandbox = make_sandbox()
    counter = itertools.count()
    try:
        run_state_machine_as_test(
            lambda: GitVersusCof(sandbox, next(counter)),
            settings=settings(
                max_examples=budget(ci=5, long=200),
                stateful_step_count=budget(ci=10, long=40),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            ),
        )
    finally:
        sandbox.stop_daemon()
        shutil.rmtree(sandbox.base, ignore_errors=True)


# Step sequences the random search found, or that a few random runs reach too rarely,
# replayed on every run through the same machine (invariants checked after each step).
SCRIPTS: dict[str, list[tuple[str, ...]]] = {
    # git refuses an initial commit of an empty index; cof used to record one.
    "commit-nothing-before-first-commit": [("commit",), ("write", "a"), ("commit",)],
    # git rm refuses to drop the only copy of a newly added file; cof used to allow it.
    "rm-newly-added-file": [("write", "a"), ("add_all",), ("rm", "a"), ("rm_cached", "a")],
    # ...but a staged file already deleted from the work tree is removed silently.
    "rm-added-then-deleted": [("write", "a"), ("add_all",), ("delete", "a"), ("rm", "a")],
    # Same size, same inode, within the same clock tick as the add: still modified.
    "racy-rewrite-after-add": [
        ("write", "a"),
        ("add_then_rewrite", "a"),
        ("commit",),
        ("add_then_rewrite", "a"),
        ("restore", "a"),
    ],
    "exec-bit-and-unstage": [
        ("write", "d/e/a"),
        ("add_all",),
        ("commit",),
        ("chmod+x", "d/e/a"),
        ("add_all",),
        ("restore_staged", "d"),
        ("restore", "d/e/a"),
    ],
}


def run_script(machine: GitVersusCof, steps: list[tuple[str, ...]]) -> None:
    for i, (action, *args) in enumerate(steps):
        path = args[0] if args else ""
        if action == "write":
            machine.pair.write(path, content(i, BLOCK, text=True))
        elif action == "delete":
            machine.pair.delete(path)
        elif action == "chmod+x":
            machine.pair.chmod(path, executable=True)
        elif action == "add_all":
            machine.add_all()
        elif action == "add_then_rewrite":
            old = (machine.git_root / path).read_bytes()
            machine.add_then_rewrite(path, other_content_same_size(old, i))
        elif action in ("rm", "rm_cached"):
            machine.rm(path, cached=action == "rm_cached")
        elif action == "commit":
            machine.commit()
        elif action == "restore":
            machine.pair.both(["restore", "--", path], ["restore", path])
        elif action == "restore_staged":
            machine.pair.both(["restore", "--staged", "--", path], ["restore", "--staged", path])
        else:
            raise AssertionError(f"unknown scripted action {action!r}")
        machine.same_status()
        machine.same_work_trees()


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripted_sequences_match_git(sandbox: CofSandbox, name: str) -> None:
    machine = GitVersusCof(sandbox, 0)
    try:
        run_script(machine, SCRIPTS[name])
    finally:
        machine.teardown()
