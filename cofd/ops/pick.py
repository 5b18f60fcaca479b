"""``cherry-pick`` and ``revert``: one commit's change, or its inverse, onto HEAD.

Both are a three-way merge into the working tree and the staging area, as ``merge``
does it (``merge_trees``), with ours = HEAD (with ``-n``: the staging area):

- ``cherry-pick C``: base = C's parent, theirs = C (the change C made);
- ``revert C``: base = C, theirs = C's parent (the change undone).

A merge commit needs ``-m N`` (``--mainline``): its N-th parent is "the parent".
A clean result is committed (cherry-pick: C's message and author; revert: git's
``Revert "<summary>"`` message) and logged "cherry-pick: ..." / "revert: ...".

State while stopped (conflicts, or a pick that became empty), in ``.cof/``:
``CHERRY_PICK_HEAD`` or ``REVERT_HEAD`` (C's id), ``MERGE_MSG`` (the prepared
message, with "# Conflicts:" lines) and ``ORIG_HEAD``; conflicts are stages 1-3 in
the staging area. ``--continue`` (or ``cof commit``) commits the resolved staging
area; ``--abort`` puts HEAD's tree back. ``revert -n`` leaves ``REVERT_HEAD`` and
``MERGE_MSG`` too, as git does; ``cherry-pick -n`` leaves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cofd.objects.model import Commit, CommitId, TreeId
from cofd.objects.worktree_state import WorktreeState
from cofd.ops.api import OpContext, op
from cofd.ops.commit import PICK_STATE_FILES, make_commit
from cofd.ops.common import reflog_signature, staged_flat, tree_of
from cofd.ops.merge import apply_merge, check_worktree, restore_head, staged_changes
from cofd.ops.merge_trees import TreeMerge, merge_trees
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from cofd.ops.switch import MAX_LISTED
from cofd.ops.trees import build
from protocol.errors import ConflictError, NothingToCommitError, UsageError

SHORT = 12  # hex digits naming a commit in labels and messages (as cof prints ids)


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between cherry-pick and revert."""

    command: str  # "cherry-pick" / "revert": reflog kind and command named in hints
    state_file: str  # CHERRY_PICK_HEAD / REVERT_HEAD
    gerund: str  # "Cherry-picking" / "Reverting", git's refusal wording
    verb: str  # "apply" / "revert": "could not apply C... summary"


PICK = Kind("cherry-pick", "CHERRY_PICK_HEAD", "Cherry-picking", "apply")
REVERT = Kind("revert", "REVERT_HEAD", "Reverting", "revert")


def _in_progress(repo: Repository) -> str | None:
    """The state file of a cherry-pick or revert in progress, or None."""
    return next((n for n in PICK_STATE_FILES if (repo.cof_dir / n).exists()), None)


def _refuse_busy(repo: Repository, state: WorktreeState, kind: Kind) -> None:
    if state.conflicts:
        listed = ", ".join(sorted(state.conflicts)[:MAX_LISTED])
        raise ConflictError(
            f"{kind.gerund} is not possible because you have unmerged files: {listed} "
            "(fix them up, mark them with 'cof add', and make a commit)"
        )
    if (repo.cof_dir / "MERGE_HEAD").exists():
        raise ConflictError(
            "you have not concluded your merge (MERGE_HEAD exists): "
            "'cof merge --continue' or 'cof merge --abort' first"
        )
    if _in_progress(repo) is not None:
        raise ConflictError(
            f"a cherry-pick or revert is already in progress "
            f"(try 'cof {kind.command} --continue' or 'cof {kind.command} --abort')"
        )


def _parent(commit: CommitId, info: Commit, mainline: int | None) -> CommitId | None:
    """The parent whose change is picked: the only one, or the ``-m N``-th."""
    hex_id = commit.hex()
    if mainline is None:
        if len(info.parents) > 1:
            raise UsageError(f"commit {hex_id} is a merge but no -m option was given")
        return info.parents[0] if info.parents else None
    # As git: -m 1 names a non-merge commit's only parent too.
    if not 1 <= mainline <= len(info.parents):
        raise UsageError(f"commit {hex_id} does not have parent {mainline}")
    return info.parents[mainline - 1]


def _message(kind: Kind, commit: CommitId, info: Commit, parent: CommitId | None, x: bool) -> str:
    """git's messages: the picked commit's (``-x``: naming it); for a revert,
    ``Revert "<summary>"`` and which commit (and, for a merge, which parent)."""
    if kind is PICK:
        text = info.message.rstrip("\n") + "\n"
        return text + f"\n(cherry picked from commit {commit.hex()})\n" if x else text
    text = f'Revert "{info.summary}"\n\nThis reverts commit {commit.hex()}'
    if len(info.parents) > 1 and parent is not None:
        return text + f", reversing\nchanges made to {parent.hex()}.\n"
    return text + ".\n"


def _write_state(
    repo: Repository, kind: Kind, head: CommitId | None, commit: CommitId, message: str
) -> None:
    if head is not None:
        (repo.cof_dir / "ORIG_HEAD").write_text(head.hex() + "\n")
    (repo.cof_dir / kind.state_file).write_text(commit.hex() + "\n")
    (repo.cof_dir / "MERGE_MSG").write_text(message)


def _merge(
    repo: Repository,
    state: WorktreeState,
    trees: tuple[TreeId | None, TreeId | None],
    ours_from_index: bool,
    label: str,
) -> TreeMerge:
    """Merge ``trees`` (base, theirs) into HEAD (or the staging area) and write the
    result into the working tree and the staging area, refusing to overwrite local
    changes as ``merge`` refuses."""
    head = repo.refs.head()
    with repo.blocks.transaction() as txn:
        ours = (
            build(repo.objects, txn, staged_flat(state)) if ours_from_index else tree_of(repo, head)
        )
        merged = merge_trees(repo, txn, trees[0], ours, trees[1], ("HEAD", label))
    check_worktree(repo, state, merged)
    apply_merge(repo, state, merged)
    repo.save_state(state)
    return merged


def _start(ctx: OpContext, repo: Repository, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
    rev = params.get("rev")
    if not isinstance(rev, str) or not rev:
        raise UsageError(f"{kind.command} needs a commit")
    state = repo.load_state()
    _refuse_busy(repo, state, kind)
    commit = resolve(repo, rev)
    info = repo.objects.read_commit(commit)
    mainline = params.get("mainline")
    parent = _parent(commit, info, int(mainline) if mainline is not None else None)
    no_commit = bool(params.get("no_commit"))
    head = repo.refs.head()
    if not no_commit and head is not None and staged_changes(repo, state, head):
        raise ConflictError(
            f"your local changes would be overwritten by {kind.command} "
            "(commit your changes or stash them to proceed)"
        )
    short = f"{commit.hex()[:SHORT]} ({info.summary})"
    trees: tuple[TreeId | None, TreeId | None]
    if kind is PICK:
        trees, label = (tree_of(repo, parent), info.tree), short
    else:
        trees, label = (info.tree, tree_of(repo, parent)), f"parent of {short}"
    merged = _merge(repo, state, trees, no_commit, label)
    message = _message(kind, commit, info, parent, bool(params.get("x")))
    conflicts = merged.conflicts
    stopped = {"commit": commit.hex(), "summary": info.summary, "committed": False}
    if conflicts:
        notes = "".join(f"#\t{p}\n" for p, _ in conflicts)
        _write_state(repo, kind, head, commit, message + "\n# Conflicts:\n" + notes)
        return {
            **stopped,
            "conflicts": [
                {"path": p, "kind": m.conflict, "message": m.message} for p, m in conflicts
            ],
        }
    if no_commit:
        if kind is REVERT:  # git leaves a revert -n to be concluded by a commit
            _write_state(repo, kind, head, commit, message)
        return stopped
    if head is not None and not staged_changes(repo, state, head):
        _write_state(repo, kind, head, commit, message)
        raise NothingToCommitError(
            f"the {kind.command} of {commit.hex()[:SHORT]} is empty: HEAD already has "
            f"its changes ('cof commit --allow-empty -m MSG' to record it anyway, or "
            f"'cof {kind.command} --abort')"
        )
    return _commit(ctx, repo, kind, commit, message)


def _commit(
    ctx: OpContext, repo: Repository, kind: Kind, commit: CommitId, message: str
) -> dict[str, Any]:
    """Commit the clean result: a cherry-pick through CHERRY_PICK_HEAD, so that its
    author is kept (and a failed commit can be concluded with --continue)."""
    if kind is PICK:
        (repo.cof_dir / kind.state_file).write_text(commit.hex() + "\n")
    result = make_commit(ctx, repo, message, None, allow_empty=False, reflog=kind.command)
    return _described(repo, result)


def _described(repo: Repository, result: dict[str, Any]) -> dict[str, Any]:
    """The commit result, with its author and date when they are not the committer's
    (git's " Author:" and " Date:" lines)."""
    made = repo.objects.read_commit(CommitId(bytes.fromhex(result["id"])))
    author, committer = made.author, made.committer
    return {
        **result,
        "committed": True,
        "author": author.format() if author.format() != committer.format() else None,
        "date": [author.timestamp, author.tz_minutes]
        if author.timestamp != committer.timestamp
        else None,
    }


def _continue(ctx: OpContext, repo: Repository) -> dict[str, Any]:
    if _in_progress(repo) is None:
        raise UsageError("no cherry-pick or revert in progress")
    state = repo.load_state()
    if state.conflicts:
        raise ConflictError(
            "Committing is not possible because you have unmerged files: "
            f"{', '.join(sorted(state.conflicts)[:MAX_LISTED])} "
            "(fix them up, then 'cof add' each path)"
        )
    path = repo.cof_dir / "MERGE_MSG"
    text = path.read_text() if path.exists() else ""
    message = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return _described(repo, make_commit(ctx, repo, message, None, allow_empty=False))


def _abort(ctx: OpContext, repo: Repository) -> dict[str, Any]:
    """HEAD's tree back in the staging area and the working tree; logged as git
    logs its ``reset --merge`` to ORIG_HEAD."""
    if _in_progress(repo) is None:
        raise UsageError("no cherry-pick or revert in progress")
    restored = restore_head(repo)
    for name in ("MERGE_MSG", *PICK_STATE_FILES):
        (repo.cof_dir / name).unlink(missing_ok=True)
    head = repo.refs.head()
    if head is not None:
        repo.refs.update(
            "HEAD", head, reflog_signature(ctx), f"reset: moving to {head.hex()}", expected=head
        )
    return {"aborted": True, "restored": restored}


def _run(ctx: OpContext, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    if params.get("abort"):
        return _abort(ctx, repo)
    if params.get("continue"):
        return _continue(ctx, repo)
    return _start(ctx, repo, kind, params)


@op("cherry-pick", writes=True)
def cherry_pick(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    return _run(ctx, PICK, params)


@op("revert", writes=True)
def revert(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    return _run(ctx, REVERT, params)
