"""``clean``: remove untracked files from the working tree, as git's ``clean``.

What goes, as git decides it:

- Without ``-d`` and paths: the untracked files of directories that hold tracked
  files (wholly untracked directories are left alone).
- With ``-d``, or with paths (which imply it, as in git): untracked directories too,
  each listed and removed whole (``dir/``) when nothing in it has to stay, else entry
  by entry.
- Ignored files stay, unless ``-x`` (removed with the rest) or ``-X`` (only they go).
- Without paths, the current directory is cleaned (git's default pathspec).

Never touched, whatever the flags: ``.cof`` and ``.git``, cof's own temp files, and
any directory holding a repository of its own (an entry named ``.cof`` or ``.git``):
git's ``-ff`` would remove a nested repository, cof never does. Inside a directory
removed whole such a repository is skipped with git's "Skipping repository" line.
Symbolic links are removed, never followed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cofd.objects.ignore import RESERVED_DIRS, IgnoreRules, is_write_temp
from cofd.ops.api import OpContext, op
from cofd.ops.paths import parent_dirs, path_args, repo_relative, shown
from cofd.ops.repository import Repository
from cofd.ops.worktree_scan import tracked_dirs_of
from protocol.errors import PathError, UsageError
from protocol.quoting import wire_path

# What ignored files do: stay ("keep"), go with the rest (-x), go alone (-X).
KEEP, WITH_REST, ONLY = "keep", "x", "X"


@dataclass(slots=True)
class _Finder:
    """Collects what to remove (repository-relative, ``dir/`` for a directory)."""

    repo: Repository
    rules: IgnoreRules
    tracked: set[str]
    tracked_dirs: set[str]
    ignored: str
    dirs: bool  # -d, or paths given
    found: list[str] = field(default_factory=list)
    _listings: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)

    def listing(self, rel: str) -> list[tuple[str, bool]]:
        """(name, is a directory) of each entry of ``rel``, sorted; symlinks are not
        directories. Cached: collapsing a directory reads what descending reads."""
        if rel not in self._listings:
            try:
                with os.scandir(self.repo.root / rel if rel else self.repo.root) as it:
                    entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            except (FileNotFoundError, NotADirectoryError):
                entries = []
            except PermissionError as exc:
                raise PathError(
                    f"cannot read directory '{shown(rel or '.')}': {exc.strerror}"
                ) from exc
            self._listings[rel] = sorted(entries)
        return self._listings[rel]

    def is_repository(self, rel: str) -> bool:
        return any(name.lower() in RESERVED_DIRS for name, _ in self.listing(rel))

    def wanted(self, rel: str, is_dir: bool) -> bool:
        if self.ignored == WITH_REST:
            return True
        return self.rules.is_ignored(rel, is_dir) == (self.ignored == ONLY)

    def tracked_dir(self, rel: str) -> None:
        """A directory holding tracked files (or the root): its untracked entries."""
        for name, is_dir in self.listing(rel):
            path = f"{rel}/{name}" if rel else name
            if name.lower() in RESERVED_DIRS:
                continue
            if is_dir:
                if path in self.tracked_dirs:
                    self.tracked_dir(path)
                else:
                    self.untracked_dir(path)
            else:
                self.file(path)

    def file(self, path: str) -> None:
        name = path.rpartition("/")[2]
        if path not in self.tracked and not is_write_temp(name) and self.wanted(path, False):
            self.found.append(path)

    def untracked_dir(self, rel: str) -> None:
        """Listed whole when it collapses (and -d), else entered (with -d, or -X whose
        ignored files git finds inside untracked directories too)."""
        if self.is_repository(rel):
            return
        ignored = self.rules.is_ignored(rel, True)
        if ignored and self.ignored == KEEP:
            return  # nothing in it may go
        if self._collapses(rel, ignored):
            if self.dirs:
                self.found.append(rel + "/")
            return
        if not self.dirs and self.ignored != ONLY:
            return
        for name, is_dir in self.listing(rel):
            path = f"{rel}/{name}"
            if is_dir:
                self.untracked_dir(path)
            else:
                self.file(path)

    def _collapses(self, rel: str, ignored: bool) -> bool:
        if self.ignored == WITH_REST:
            return True
        if self.ignored == KEEP:
            return not self._holds_ignored(rel)
        if ignored:
            return True
        has_files, all_ignored = self._ignored_content(rel)
        return has_files and all_ignored

    def _holds_ignored(self, rel: str) -> bool:
        """Whether anything under ``rel`` is ignored (nested repositories aside)."""
        for name, is_dir in self.listing(rel):
            path = f"{rel}/{name}"
            if is_dir:
                if self.rules.is_ignored(path, True):
                    return True
                if not self.is_repository(path) and self._holds_ignored(path):
                    return True
            elif self.rules.is_ignored(path, False):
                return True
        return False

    def _ignored_content(self, rel: str) -> tuple[bool, bool]:
        """(holds any file, every file it holds is ignored) for ``-X``."""
        has_files, all_ignored = False, True
        for name, is_dir in self.listing(rel):
            path = f"{rel}/{name}"
            if is_dir and self.rules.is_ignored(path, True):
                has_files = True
            elif is_dir:
                if self.is_repository(path):
                    return has_files, False
                inner_files, inner_ignored = self._ignored_content(path)
                has_files = has_files or inner_files
                all_ignored = all_ignored and inner_ignored
            else:
                has_files = True
                all_ignored = all_ignored and self.rules.is_ignored(path, False)
        return has_files, all_ignored

    def spec(self, spec: str) -> None:
        """What ``spec`` (a path the user named) holds to remove."""
        for parent in parent_dirs(spec):
            # Beyond a symlink is not the working tree; inside a repository of its
            # own is not ours to clean.
            if os.path.islink(self.repo.root / parent) or self.is_repository(parent):
                return
        try:
            st = os.lstat(self.repo.root / spec)
        except (FileNotFoundError, NotADirectoryError):
            return
        if not spec or spec in self.tracked_dirs:
            self.tracked_dir(spec)
        elif stat.S_ISDIR(st.st_mode):
            self.untracked_dir(spec)
        else:
            self.file(spec)


@dataclass(slots=True)
class _Remover:
    """git's ``remove_dirs``: a directory goes entry by entry; when all of it went, it
    is reported as ``dir/``, otherwise each entry that went is."""

    root: Path
    cwd: Path
    dry_run: bool
    lines: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def remove(self, item: str) -> None:
        """Remove ``item`` (``dir/`` for a directory), labelled as the user sees it:
        relative to the current directory, and what lies inside a directory by that
        label (``../s/f`` from ``s``, as git prints it)."""
        rel = item.rstrip("/")
        label = os.path.relpath(self.root / rel, self.cwd)
        if item.endswith("/"):
            if self._remove_dir(rel, label):
                self.lines.append(("remove", label + "/"))
        elif self._unlink(rel, label):
            self.lines.append(("remove", label))

    def _unlink(self, rel: str, label: str) -> bool:
        if self.dry_run:
            return True
        try:
            os.unlink(self.root / rel)
        except FileNotFoundError:
            return True
        except OSError as exc:
            self.failed.append((label, exc.strerror or str(exc)))
            return False
        return True

    def _remove_dir(self, rel: str, label: str) -> bool:
        full = self.root / rel
        try:
            with os.scandir(full) as it:
                entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it)
        except OSError as exc:
            self.failed.append((label, exc.strerror or str(exc)))
            return False
        if any(name.lower() in RESERVED_DIRS for name, _ in entries):
            self.lines.append(("skip", label))
            return False
        gone, removed = True, []
        for name, is_dir in entries:
            path, inner = f"{rel}/{name}", f"{label}/{name}"
            if self._remove_dir(path, inner) if is_dir else self._unlink(path, inner):
                removed.append(inner)
            else:
                gone = False
        if gone and os.path.realpath(full) == os.path.realpath(self.cwd):
            self.lines.append(("cwd", ""))
            gone = False
        elif gone and not self.dry_run:
            try:
                os.rmdir(full)
            except OSError as exc:
                self.failed.append((label, exc.strerror or str(exc)))
                gone = False
        if not gone:
            self.lines += [("remove", inner) for inner in removed]
        return gone


def _without_nested(items: list[str]) -> list[str]:
    """Sorted, each once, and nothing inside a directory listed whole (what lies in
    ``dir/`` sorts right after it)."""
    out: list[str] = []
    whole: str | None = None
    for item in sorted(set(items)):
        if whole is not None and item.startswith(whole):
            continue
        out.append(item)
        if item.endswith("/"):
            whole = item
    return out


@op("clean", writes=True)
def clean(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Params: ``paths``, ``dry_run`` (-n), ``force`` (-f), ``dirs`` (-d), ``ignored``
    (-x), ``ignored_only`` (-X). Returns the lines to print, in order: ``[kind,
    path]`` with kind ``remove``, ``skip`` (a nested repository) or ``cwd``; and the
    entries that could not be removed (``[path, reason]``)."""
    repo = ctx.require_repo()
    dry_run, force = bool(params.get("dry_run")), bool(params.get("force"))
    if not dry_run and not force:
        raise UsageError(
            "clean.requireForce defaults to true and neither -n nor -f given; refusing to clean"
        )
    if params.get("ignored") and params.get("ignored_only"):
        raise UsageError("-x and -X cannot be used together")
    raw = path_args(params.get("paths"))
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in raw or ["."]]
    state = repo.load_state()
    tracked = set(state.entries) | set(state.conflicts)
    finder = _Finder(
        repo,
        IgnoreRules(repo.root),
        tracked,
        tracked_dirs_of(tracked),
        WITH_REST if params.get("ignored") else ONLY if params.get("ignored_only") else KEEP,
        dirs=bool(params.get("dirs")) or bool(raw),
    )
    for spec in specs:
        finder.spec(spec)
    remover = _Remover(repo.root, ctx.cwd, dry_run)
    for item in _without_nested(finder.found):
        remover.remove(item)
    # Names raw, for the client to quote as git does (not UTF-8: as bytes).
    return {
        "lines": [[kind, wire_path(path)] for kind, path in remover.lines],
        "failed": [[wire_path(path), reason] for path, reason in remover.failed],
        "dry_run": dry_run,
    }
