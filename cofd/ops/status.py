"""``status``: staged changes (index vs HEAD), unstaged changes and untracked files."""

from __future__ import annotations

from typing import Any

from cofd.objects.worktree_state import WorktreeState
from cofd.ops import sequencer
from cofd.ops.api import OpContext, op
from cofd.ops.common import flat_tree
from cofd.ops.detached import detached_fields
from cofd.ops.paths import Scope, repo_relative
from cofd.ops.pick import PICK, REVERT
from cofd.ops.repository import Repository
from cofd.ops.trees import FlatEntry
from cofd.ops.upstreams import tracking_state
from cofd.ops.worktree_scan import WorktreeDiff, collapse_untracked, scan
from protocol.errors import UsageError
from protocol.quoting import wire_path

# Porcelain codes for unmerged paths by which sides exist: (base, ours, theirs).
_UNMERGED = {
    (True, True, True): "UU",
    (False, True, True): "AA",
    (True, False, False): "DD",
    (False, True, False): "AU",
    (False, False, True): "UA",
    (True, False, True): "DU",
    (True, True, False): "UD",
}


def _index_code(head: FlatEntry | None, staged: FlatEntry | None) -> str:
    if head is None:
        return "A" if staged is not None else " "
    if staged is None:
        return "D"
    if head.kind != staged.kind:
        return "T"
    return "M" if (head.id, head.mode, head.size) != (staged.id, staged.mode, staged.size) else " "


def branch_info(repo: Repository) -> dict[str, Any]:
    target = repo.refs.head_target()
    head = repo.refs.head()
    branch = target.removeprefix("refs/heads/") if target else None
    return {
        "branch": branch,
        "head": head.hex() if head is not None else None,
        "detached": target is None,
        **detached_fields(repo),
        "upstream": tracking_state(repo, branch),
        "root": str(repo.root),
    }


def _changed_paths(
    head_files: dict[str, FlatEntry], state: WorktreeState, modified: dict[str, str]
) -> set[str]:
    """Paths where staging area and HEAD, or working tree and staging area, differ —
    found without building per-path objects for the (usually many) clean paths."""
    changed = set(modified) | set(state.conflicts)
    for path, entry in state.entries.items():
        head = head_files.get(path)
        if head is None or head.id != entry.id or head.mode != entry.mode:
            changed.add(path)
    changed.update(p for p in head_files if p not in state.entries)
    return changed


# git's -u modes (``status.showUntrackedFiles``).
UNTRACKED_MODES = ("no", "normal", "all")


def _untracked_listing(worktree: WorktreeDiff, mode: str) -> list[str | bytes]:
    """Untracked files as ``status -u<mode>`` lists them: none, a directory holding no
    tracked file once as ``dir/`` (git's default), or every file; a repository of its
    own is one ``dir/`` in every mode, as git lists an embedded one."""
    if mode == "no":
        return []
    paths = [f.path for f in worktree.untracked] + [d + "/" for d in worktree.repositories]
    if mode == "all":
        paths.sort(key=lambda p: p.encode("utf-8", "surrogateescape"))
    else:
        paths = collapse_untracked(paths, worktree.tracked_dirs)
    # A name that is not UTF-8 (cof cannot track it but lists it, as git does) goes
    # as its bytes, so the client quotes the bytes themselves (``\\377``).
    return [wire_path(path) for path in paths]


def compute(
    repo: Repository, state: WorktreeState, specs: list[str], untracked: str = "normal"
) -> dict[str, Any]:
    head_files = flat_tree(repo, repo.refs.head())
    worktree = scan(repo, state, specs)
    entries: list[list[str]] = []
    changed = _changed_paths(head_files, state, worktree.modified)
    scope = Scope(specs)
    for path in sorted(changed, key=lambda p: p.encode("utf-8", "surrogateescape")):
        if path not in scope:
            continue
        if path in state.conflicts:
            sides = state.conflicts[path]
            entries.append([_UNMERGED[(1 in sides, 2 in sides, 3 in sides)], path])
            continue
        staged = state.entries.get(path)
        flat = FlatEntry(staged.mode, staged.id, staged.size) if staged is not None else None
        x = _index_code(head_files.get(path), flat)
        y = worktree.modified.get(path, " ") if staged is not None else " "
        if x != " " or y != " ":
            entries.append([x + y, path])
    if worktree.refreshed:
        repo.save_state(state)
    return {
        **branch_info(repo),
        "entries": entries,
        "untracked": _untracked_listing(worktree, untracked),
        "merging": (repo.cof_dir / "MERGE_HEAD").exists(),
        "picking": _picking(repo),
        # git shows no unstage hint while CHERRY_PICK_HEAD exists (its "whence"),
        # though it does between a series' picks.
        "cherry_pick_head": (repo.cof_dir / PICK.state_file).exists(),
    }


def _picking(repo: Repository) -> dict[str, str | None] | None:
    """``{"command", "commit"}`` of a cherry-pick or revert in progress, or None;
    during a series, git 2.39 names no commit (``commit`` None)."""
    series = sequencer.command(repo)
    if series is not None:
        return {"command": series, "commit": None}
    for kind in (PICK, REVERT):
        try:
            text = (repo.cof_dir / kind.state_file).read_text().split()
        except (FileNotFoundError, UnicodeDecodeError):
            continue
        if text:
            return {"command": kind.command, "commit": text[0]}
    return None


# A reader: it may save refreshed stat data (WorktreeState.save is atomic, with a
# temp file of its own), but the staging area cannot change under it: add, rm,
# commit and checkout are writers.
@op("status", writes=False)
def status(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in params.get("paths") or []]
    untracked = params.get("untracked") or "normal"
    if untracked not in UNTRACKED_MODES:
        raise UsageError(f"invalid untracked files mode '{untracked}' (no, normal or all)")
    return compute(repo, repo.load_state(), specs, untracked)
