"""``reset``: move the current branch (or a detached HEAD) to a commit and reset the
staging area and, with ``--hard``, the working tree; or, given paths, unstage them.

As git: ``--soft`` moves only the ref; ``--mixed`` (the default) also makes the
staging area the commit's tree (the working tree is left alone, and the files that
now differ from it are reported); ``--hard`` the working tree too, discarding local
changes to tracked files (untracked files stay); ``--merge`` (``reset_merge``) and
``--keep`` (``reset_keep``) update the working tree too but keep local changes,
refusing before anything changes where the reset would lose one. Without ``--``, a
first argument that names a commit is the revision and the rest are paths; otherwise
every argument must be a path that exists, as git requires.

Crash safety: the working tree and the staging area are written first and the ref is
moved last (with its reflog lines, under the ref's lock), so a reset killed half-way
leaves the ref where it was, ``HEAD~1`` still names the same commit, and running the
same command again finishes the job.
"""

from __future__ import annotations

import os
from typing import Any

from cofd.objects.model import CommitId
from cofd.objects.worktree_state import WorktreeState
from cofd.ops.api import OpContext, op
from cofd.ops.branches import end_merge
from cofd.ops.common import ByteProgress, entry_from_flat, flat_tree, reflog_signature, tree_of
from cofd.ops.paths import Scope, path_args, repo_relative, shown
from cofd.ops.repository import Repository
from cofd.ops.reset_keep import reset_keep_worktree
from cofd.ops.reset_merge import reset_merge_worktree
from cofd.ops.revisions import resolve
from cofd.ops.stage import drop_displaced
from cofd.ops.switch import force_reset
from cofd.ops.trees import FlatEntry
from cofd.ops.worktree_scan import scan
from protocol.errors import ConflictError, RevisionError, UsageError

MODES = ("soft", "mixed", "hard", "merge", "keep")
# How refresh_index words a staged file the working tree differs from (git's codes).
_UNMERGED = "U"


def _split_args(
    ctx: OpContext, repo: Repository, words: list[str], after: list[str] | None
) -> tuple[str | None, list[str]]:
    """(revision or None, paths) by git's rules: ``REV -- PATHS``, ``-- PATHS``; without
    ``--`` a first word naming a commit is the revision (it must not also be a file),
    else all words are paths and the first must exist in the working tree."""
    if after is not None:
        if len(words) > 1:
            raise UsageError("only one revision may come before --")
        return (words[0] if words else None), after
    if not words:
        return None, []
    first = words[0]
    try:
        resolve(repo, first)
    except RevisionError:
        if not os.path.lexists(ctx.cwd / first):
            raise RevisionError(
                f"ambiguous argument '{first}': unknown revision or path not in the "
                "working tree (use '--' to separate paths from revisions)"
            ) from None
        return None, words
    if os.path.lexists(ctx.cwd / first):
        raise UsageError(
            f"ambiguous argument '{first}': both revision and filename "
            "(use '--' to separate paths from revisions)"
        )
    return first, words[1:]


def stage_tree(state: WorktreeState, source: dict[str, FlatEntry], scope: Scope) -> None:
    """Make the staging area equal ``source`` within ``scope``. An entry that already
    holds the same content keeps its stat, so the files the reset leaves alone are
    not hashed again."""
    for path in [p for p in state.entries if p in scope and p not in source]:
        del state.entries[path]
    changed = []
    for path, flat in source.items():
        if path not in scope:
            continue
        old = state.entries.get(path)
        if old is None or (old.mode, old.id, old.size) != (flat.mode, flat.id, flat.size):
            state.entries[path] = entry_from_flat(path, flat)
            changed.append(path)
    for path in [p for p in state.conflicts if p in scope]:
        del state.conflicts[path]
    drop_displaced(state, changed)


def _unstaged(repo: Repository, state: WorktreeState) -> list[tuple[str, str]]:
    """git's "Unstaged changes after reset": (M|D|T|U, path) for every tracked file the
    working tree differs from, in path order; refreshes the stat cache on the way."""
    lines = [(_UNMERGED, p) for p in state.conflicts]
    if state.entries:
        diff = scan(repo, state, sorted(state.entries))
        lines += [(code, path) for path, code in diff.modified.items()]
    lines.sort(key=lambda line: line[1].encode("utf-8", "surrogateescape"))
    return [(code, shown(path)) for code, path in lines]


def move_head(
    ctx: OpContext, repo: Repository, head: CommitId | None, target: CommitId, message: str
) -> None:
    """Point the current branch (or a detached HEAD) at ``target``, logged as git logs
    it: both reflogs when the ref moves; HEAD's alone when a branch stays where it is;
    nothing for a detached HEAD that stays."""
    who = reflog_signature(ctx)
    branch = repo.refs.head_target()
    if target != head:
        repo.refs.update("HEAD", target, who, message, expected=head)
    elif branch is not None:
        repo.refs.set_head(branch, who, message)
    if head is not None:
        (repo.cof_dir / "ORIG_HEAD").write_text(head.hex() + "\n")


def _reset_to(ctx: OpContext, repo: Repository, rev: str | None, mode: str) -> dict[str, Any]:
    head = repo.refs.head()
    # No revision on an unborn branch: the empty tree, and no ref to move (as git).
    target = resolve(repo, rev) if rev is not None else head
    state = repo.load_state()
    unstaged: list[tuple[str, str]] = []
    merging = bool(state.conflicts) or (repo.cof_dir / "MERGE_HEAD").exists()
    if merging and mode in ("soft", "keep"):
        raise ConflictError(f"Cannot do a {mode} reset in the middle of a merge")
    if mode == "merge":
        reset_merge_worktree(repo, target, rev or "HEAD")
    elif mode == "keep":
        if head is None or target is None:
            raise RevisionError(
                f"You do not have a valid HEAD. (could not reset to {rev or 'HEAD'}: "
                "a keep reset moves from a commit)"
            )
        reset_keep_worktree(repo, state, head, target, rev or "HEAD")
        stage_tree(state, flat_tree(repo, target), Scope([]))  # then git's mixed reset
        repo.save_state(state)
    elif mode == "mixed":
        stage_tree(state, flat_tree(repo, target), Scope([]))
        unstaged = _unstaged(repo, state)
        repo.save_state(state)
    elif mode == "hard":
        wanted = flat_tree(repo, target)
        total = sum(
            e.size
            for p, e in wanted.items()
            if (old := state.entries.get(p)) is None or (old.id, old.mode) != (e.id, e.mode)
        )
        progress = ByteProgress(ctx, "resetting", total)
        force_reset(repo, state, tree_of(repo, target), tree_of(repo, head), progress.add)
        repo.save_state(state)
    if target is not None:
        move_head(ctx, repo, head, target, f"reset: moving to {rev or 'HEAD'}")
    end_merge(repo)
    return {
        "mode": mode,
        "commit": target.hex() if target is not None else None,
        "summary": repo.objects.read_commit(target).summary if target is not None else None,
        "unstaged": unstaged,
    }


def _reset_paths(
    ctx: OpContext, repo: Repository, rev: str | None, raw: list[str]
) -> dict[str, Any]:
    """``reset [REV] [--] PATHS``: the staging area's entries under PATHS become REV's
    (HEAD's by default); nothing else changes. Paths matching nothing are no error."""
    commit = resolve(repo, rev) if rev is not None else repo.refs.head()
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in raw]
    state = repo.load_state()
    stage_tree(state, flat_tree(repo, commit), Scope(specs))
    unstaged = _unstaged(repo, state)
    repo.save_state(state)
    return {"mode": "mixed", "commit": None, "summary": None, "unstaged": unstaged}


@op("reset", writes=True)
def reset(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Params: ``mode`` (soft|mixed|hard|merge|keep, None: mixed), ``args`` (the words
    before ``--``), ``paths`` (the words after it; None when there was no ``--``)."""
    repo = ctx.require_repo()
    mode = params.get("mode")
    if mode is not None and mode not in MODES:
        raise UsageError(f"unknown reset mode {mode!r}")
    after = params.get("paths")
    rev, paths = _split_args(
        ctx, repo, path_args(params.get("args")), None if after is None else path_args(after)
    )
    if paths:
        if mode not in (None, "mixed"):
            raise UsageError(f"Cannot do {mode} reset with paths")
        return _reset_paths(ctx, repo, rev, paths)
    return _reset_to(ctx, repo, rev, mode or "mixed")
