"""A git work tree and a cof work tree driven side by side, for differential tests.

``GitPair`` runs the same operations in both and compares what they leave behind:
the files (paths, bytes, exec bits, directories), ``status --porcelain`` and the
commit graph (cof's commits matched to git's by the order they were created).

git runs with no user or system configuration and with the options cof's semantics
follow: no rename detection (cof has none), ``core.fileMode=true`` (cof always
records the exec bit), ``merge.conflictStyle=merge`` (two-sided markers),
``init.defaultBranch=main``; ``GIT_EDITOR=true`` so ``merge --continue`` and merge
commits never wait for an editor.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import CofSandbox

GIT_OPTIONS = (
    "-c",
    "user.name=T",
    "-c",
    "user.email=t@e",
    "-c",
    "merge.conflictStyle=merge",
    "-c",
    "core.fileMode=true",
    "-c",
    "status.renames=false",
    "-c",
    "diff.renames=false",
    "-c",
    "merge.renames=false",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "core.quotePath=true",
    "-c",
    "advice.detachedHead=false",
    "-c",
    "status.showUntrackedFiles=normal",
)
CONFLICT_KIND = re.compile(r"^CONFLICT \(([^)]+)\)", re.MULTILINE)

# One entry per path: (bytes, executable) for a file, None for a directory.
Snapshot = dict[str, tuple[bytes, bool] | None]


def snapshot(root: Path, skip: str) -> Snapshot:
    """Every file's bytes and exec bit, and every directory, under ``root``."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d != skip]
        for name in dirnames:
            out[Path(dirpath, name).relative_to(root).as_posix()] = None
        for name in filenames:
            full = Path(dirpath, name)
            executable = bool(os.lstat(full).st_mode & stat.S_IXUSR)
            out[full.relative_to(root).as_posix()] = (full.read_bytes(), executable)
    return out


def conflict_kinds(output: str) -> list[str]:
    """The kinds named by ``CONFLICT (kind): ...`` lines, sorted."""
    return sorted(CONFLICT_KIND.findall(output))


class GitPair:
    """``git_root`` and ``cof_root`` under ``sandbox.base``, initialised empty."""

    def __init__(self, sandbox: CofSandbox, name: str) -> None:
        self.sandbox = sandbox
        sandbox.env["COF_AUTHOR_NAME"] = "T"
        sandbox.env["COF_AUTHOR_EMAIL"] = "t@e"
        self.git_root = sandbox.base / f"{name}-git"
        self.cof_root = sandbox.base / f"{name}-cof"
        self.git_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
            "HOME": os.fspath(sandbox.base),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_EDITOR": "true",
            "GIT_MERGE_AUTOEDIT": "no",
            "LC_ALL": "C",
        }
        self.git_root.mkdir()
        self.cof_root.mkdir()
        self.git("init", "-q", ".")
        self.cof("init", ".")
        # Commits in creation order: git id -> cof id, and both lists.
        self.cof_of: dict[str, str] = {}
        self.git_order: list[str] = []

    # --- running the two tools ---------------------------------------------------

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", *GIT_OPTIONS, *args],
            cwd=self.git_root,
            env=self.git_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"git {args} exited {result.returncode}: {result.stderr}"
        return result

    def cof(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = self.sandbox.cof(*args, cwd=self.cof_root, check=False)
        if check:
            assert result.returncode == 0, (
                f"cof {args} exited {result.returncode}: {result.stdout}{result.stderr}"
            )
        return result

    def both_bytes(
        self, args: list[str], cwd: str = "", cof_args: list[str] | None = None
    ) -> tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes]]:
        """Run one command in both (from ``cwd`` below each root; cof with
        ``cof_args`` if given), output as bytes (file contents, archives, names that
        are not UTF-8); exit codes unchecked."""
        git = subprocess.run(
            ["git", *GIT_OPTIONS, *args],
            cwd=self.git_root / cwd,
            env=self.git_env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        cof = subprocess.run(
            [sys.executable, "-m", "cofctl", *(args if cof_args is None else cof_args)],
            cwd=self.cof_root / cwd,
            env=self.sandbox.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        return git, cof

    def both(
        self, git_args: list[str], cof_args: list[str] | None = None
    ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        """Run one command in both; they must agree on success versus failure."""
        cof_args = git_args if cof_args is None else cof_args
        g = self.git(*git_args, check=False)
        c = self.cof(*cof_args, check=False)
        assert (g.returncode == 0) == (c.returncode == 0), (
            f"git {git_args} exited {g.returncode} ({(g.stdout + g.stderr).strip()!r}) but "
            f"cof {cof_args} exited {c.returncode} ({(c.stdout + c.stderr).strip()!r})"
        )
        return g, c

    # --- the work trees --------------------------------------------------------------

    def write(self, path: str, data: bytes) -> None:
        for root in (self.git_root, self.cof_root):
            full = root / path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(data)

    def delete(self, path: str) -> None:
        for root in (self.git_root, self.cof_root):
            (root / path).unlink()

    def chmod(self, path: str, executable: bool) -> None:
        for root in (self.git_root, self.cof_root):
            (root / path).chmod(0o755 if executable else 0o644)

    def files(self) -> list[str]:
        """Regular files in the git work tree, sorted."""
        return sorted(p for p, v in snapshot(self.git_root, ".git").items() if v is not None)

    def unmerged(self) -> list[str]:
        out = self.git("diff", "--name-only", "--diff-filter=U", "-z").stdout
        return sorted({p for p in out.split("\0") if p})

    def merging(self) -> bool:
        return (self.git_root / ".git" / "MERGE_HEAD").exists()

    def assert_same_tree(self) -> None:
        git_tree = snapshot(self.git_root, ".git")
        cof_tree = snapshot(self.cof_root, ".cof")
        if git_tree != cof_tree:
            diffs = sorted(
                p for p in set(git_tree) | set(cof_tree) if git_tree.get(p) != cof_tree.get(p)
            )
            details = [f"{p}: git={git_tree.get(p)!r} cof={cof_tree.get(p)!r}" for p in diffs]
            raise AssertionError("work trees differ:\n" + "\n".join(details))

    def assert_same_status(self) -> None:
        git_status = self.git("status", "--porcelain").stdout
        cof_status = self.cof("status", "--porcelain").stdout
        assert cof_status == git_status, f"git:\n{git_status}cof:\n{cof_status}"

    # --- history ---------------------------------------------------------------------

    def git_refs(self) -> tuple[str | None, str | None, dict[str, str]]:
        """(current branch or None, HEAD commit, {branch: commit}) in git."""
        branch = self.git("symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
        head = self.git("rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
        out = self.git("for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
        branches = dict(line.split(" ", 1) for line in out.stdout.splitlines())
        return branch or None, head or None, branches

    def cof_refs(self) -> tuple[str | None, str | None, dict[str, str]]:
        data = json.loads(self.cof("branch", "--json").stdout)
        current = [b["name"] for b in data["branches"] if b["current"]]
        branches = {b["name"]: b["commit"] for b in data["branches"]}
        return (current[0] if current else None), data["head"], branches

    def sync_refs(self) -> None:
        """Match new commits (HEAD moved to a commit never seen) and check that HEAD
        and every branch point at corresponding commits in both."""
        g_branch, g_head, g_branches = self.git_refs()
        c_branch, c_head, c_branches = self.cof_refs()
        assert g_branch == c_branch, f"current branch: git {g_branch}, cof {c_branch}"
        assert (g_head is None) == (c_head is None)
        if g_head is not None and g_head not in self.cof_of:
            assert c_head not in self.cof_of.values(), (
                "git made a new commit but cof's HEAD is an old one"
            )
            assert c_head is not None
            self.cof_of[g_head] = c_head
            self.git_order.append(g_head)
        if g_head is not None:
            assert self.cof_of[g_head] == c_head, "HEAD points at different commits"
        assert sorted(g_branches) == sorted(c_branches)
        for name, commit in g_branches.items():
            assert self.cof_of.get(commit) == c_branches[name], f"branch {name} differs"

    def git_graph(self) -> dict[str, list[str]]:
        """Every commit reachable from HEAD in git -> its parents."""
        out = self.git("log", "--format=%H %P", "HEAD").stdout
        return {line.split()[0]: line.split()[1:] for line in out.splitlines()}

    def cof_graph(self) -> dict[str, list[str]]:
        commits = json.loads(self.cof("log", "--json").stdout)
        return {c["id"]: c["parents"] for c in commits}

    def assert_same_graph(self) -> None:
        """Same commits reachable from HEAD, each with corresponding parents."""
        git_graph, cof_graph = self.git_graph(), self.cof_graph()
        assert len(git_graph) == len(cof_graph)
        for commit, parents in git_graph.items():
            mapped = self.cof_of[commit]
            assert cof_graph[mapped] == [self.cof_of[p] for p in parents], (
                f"commit #{self.git_order.index(commit)} has different parents"
            )
        oneline_git = self.git("log", "--oneline").stdout.splitlines()
        oneline_cof = self.cof("log", "--oneline").stdout.splitlines()
        assert len(oneline_git) == len(oneline_cof) == len(git_graph)
