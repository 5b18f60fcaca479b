"""One cherry-pick or revert: a commit's change, or its inverse, onto HEAD.

It is a three-way merge into the working tree and the staging area, as ``merge``
does it (``merge_trees``), with ours = HEAD (with ``-n``: the staging area):

- cherry-pick C: base = C's parent, theirs = C (the change C made);
- revert C: base = C, theirs = C's parent (the change undone).

A merge commit needs ``-m N`` (``--mainline``): its N-th parent is "the parent". A
clean result is committed (cherry-pick: C's message and author; revert: git's
``Revert "<summary>"``) and logged "cherry-pick: ..." / "revert: ...".

It stops, as git does, on conflicts (``CHERRY_PICK_HEAD`` or ``REVERT_HEAD`` naming C,
``MERGE_MSG`` with "# Conflicts:" lines, and no ``ORIG_HEAD``; with ``-n`` a cherry-pick
leaves no ``CHERRY_PICK_HEAD``) and on a result that changes nothing (a cherry-pick
leaves ``CHERRY_PICK_HEAD`` and ``MERGE_MSG``, a revert only ``MERGE_MSG``), unless
``--allow-empty`` (C itself changed nothing) or ``--keep-redundant-commits`` (any
empty result) let it commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cofd.objects.model import Commit, CommitId, TreeId
from cofd.objects.worktree_state import WorktreeState
from cofd.ops.api import OpContext
from cofd.ops.branches import end_merge
from cofd.ops.commit import PICK_STATE_FILES, make_commit
from cofd.ops.common import identity, staged_flat, tree_of
from cofd.ops.merge import apply_merge, check_worktree, staged_changes
from cofd.ops.merge_trees import TreeMerge, merge_trees
from cofd.ops.repository import Repository
from cofd.ops.reset import move_head
from cofd.ops.reset_merge import reset_merge_worktree
from cofd.ops.sequencer_message import pick_message, revert_message, signed_off
from cofd.ops.switch import MAX_LISTED
from cofd.ops.trees import build
from protocol.errors import ConflictError, UsageError

SHORT = 12  # hex digits naming a commit in labels and messages (as cof prints ids)


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between cherry-pick and revert."""

    command: str  # "cherry-pick" / "revert": reflog kind and command named in hints
    state_file: str  # CHERRY_PICK_HEAD / REVERT_HEAD
    gerund: str  # "Cherry-picking" / "Reverting", git's refusal wording
    verb: str  # "apply" / "revert": "could not apply C... summary"
    action: str  # "pick" / "revert": the word of a sequencer todo line


PICK = Kind("cherry-pick", "CHERRY_PICK_HEAD", "Cherry-picking", "apply", "pick")
REVERT = Kind("revert", "REVERT_HEAD", "Reverting", "revert", "revert")
KIND_OF_ACTION = {PICK.action: PICK, REVERT.action: REVERT}


@dataclass(frozen=True, slots=True)
class Options:
    """What every pick of one command (and of its series) is told."""

    mainline: int | None = None
    record_origin: bool = False  # -x
    signoff: bool = False  # -s
    allow_empty: bool = False  # commit a commit that itself changed nothing
    keep_redundant: bool = False  # commit any empty result
    no_commit: bool = False  # -n

    @staticmethod
    def from_params(params: dict[str, Any]) -> Options:
        mainline = params.get("mainline")
        if mainline is not None and (not isinstance(mainline, int) or mainline < 1):
            raise UsageError("-m expects a parent number (1 or more)")
        return Options(
            mainline,
            bool(params.get("x")),
            bool(params.get("signoff")),
            bool(params.get("allow_empty")) or bool(params.get("keep_redundant")),
            bool(params.get("keep_redundant")),
            bool(params.get("no_commit")),
        )

    def to_json(self) -> dict[str, Any]:
        """As parameters: what a series saves, to read back with ``from_params``."""
        return {
            "mainline": self.mainline,
            "x": self.record_origin,
            "signoff": self.signoff,
            "allow_empty": self.allow_empty,
            "keep_redundant": self.keep_redundant,
            "no_commit": self.no_commit,
        }


def in_progress(repo: Repository) -> str | None:
    """The state file of a cherry-pick or revert in progress, or None."""
    return next((n for n in PICK_STATE_FILES if (repo.cof_dir / n).exists()), None)


def refuse_busy(repo: Repository, state: WorktreeState, kind: Kind, other_picks: bool) -> None:
    """Refuse to pick over unresolved conflicts, a merge, or (``other_picks``) a
    stopped pick."""
    if state.conflicts:
        raise unmerged_error(kind, state)
    if (repo.cof_dir / "MERGE_HEAD").exists():
        raise ConflictError(
            "you have not concluded your merge (MERGE_HEAD exists): "
            "'cof merge --continue' or 'cof merge --abort' first"
        )
    if other_picks and in_progress(repo) is not None:
        raise ConflictError(
            f"a cherry-pick or revert is already in progress "
            f"(try 'cof {kind.command} --continue' or 'cof {kind.command} --abort')"
        )


def unmerged_error(kind: Kind, state: WorktreeState) -> ConflictError:
    listed = ", ".join(sorted(state.conflicts)[:MAX_LISTED])
    return ConflictError(
        f"{kind.gerund} is not possible because you have unmerged files: {listed} "
        "(fix them up, mark them with 'cof add', and make a commit)"
    )


def dirty_error(kind: Kind) -> ConflictError:
    return ConflictError(
        f"your local changes would be overwritten by {kind.command} "
        "(commit your changes or stash them to proceed)"
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


def _message(
    ctx: OpContext, kind: Kind, commit: CommitId, info: Commit, parent: CommitId | None, o: Options
) -> str:
    if kind is PICK:
        text = pick_message(commit, info, o.record_origin)
    else:
        text = revert_message(commit, info, parent)
    return signed_off(text, identity(ctx, None)[1].format()) if o.signoff else text


def _write_state(repo: Repository, state_file: str | None, commit: CommitId, msg: str) -> None:
    """What a stop leaves (no ORIG_HEAD: git's picks never write one)."""
    if state_file is not None:
        (repo.cof_dir / state_file).write_text(commit.hex() + "\n")
    (repo.cof_dir / "MERGE_MSG").write_text(msg)


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


def pick_one(
    ctx: OpContext, repo: Repository, kind: Kind, commit: CommitId, o: Options, single: bool
) -> dict[str, Any]:
    """Apply ``commit``: ``{"picked": [COMMIT]}`` for the commit made, ``{"stop":
    {...}}`` when it stopped (conflicts, or an empty result), ``{}`` with ``-n``.
    Refusals raise before anything changes."""
    state = repo.load_state()
    # In a series, `revert -n` leaves each REVERT_HEAD for the next to replace.
    refuse_busy(repo, state, kind, other_picks=single or not o.no_commit)
    info = repo.objects.read_commit(commit)
    parent = _parent(commit, info, o.mainline)
    message = _message(ctx, kind, commit, info, parent, o)
    head = repo.refs.head()
    if not o.no_commit and head is not None and staged_changes(repo, state, head):
        raise dirty_error(kind)
    short = f"{commit.hex()[:SHORT]} ({info.summary})"
    trees: tuple[TreeId | None, TreeId | None]
    if kind is PICK:
        trees, label = (tree_of(repo, parent), info.tree), short
    else:
        trees, label = (info.tree, tree_of(repo, parent)), f"parent of {short}"
    merged = _merge(repo, state, trees, o.no_commit, label)
    stop: dict[str, Any] = {
        "command": kind.command,
        "commit": commit.hex(),
        "summary": info.summary,
    }
    # git names the commit in CHERRY_PICK_HEAD only when it is to commit it, and in
    # REVERT_HEAD also for a clean `revert -n` (which a commit then concludes).
    if merged.conflicts:
        notes = "".join(f"#\t{p}\n" for p, _ in merged.conflicts)
        named = None if o.no_commit and kind is PICK else kind.state_file
        _write_state(repo, named, commit, message + "\n# Conflicts:\n" + notes)
        conflicts = [
            {"path": p, "kind": m.conflict, "message": m.message} for p, m in merged.conflicts
        ]
        stop.update(reason="conflicts", conflicts=conflicts, no_commit=o.no_commit)
        return {"stop": stop}
    if o.no_commit:
        if kind is REVERT:
            _write_state(repo, kind.state_file, commit, message)
        return {}
    empty = head is not None and not staged_changes(repo, state, head)
    if empty and not (o.keep_redundant or (o.allow_empty and info.tree == tree_of(repo, parent))):
        _write_state(repo, kind.state_file if kind is PICK else None, commit, message)
        return {"stop": {**stop, "reason": "empty"}}
    if kind is PICK:  # committed through CHERRY_PICK_HEAD, so its author is kept
        (repo.cof_dir / kind.state_file).write_text(commit.hex() + "\n")
    made = make_commit(ctx, repo, message, None, allow_empty=empty, reflog=kind.command)
    return {"picked": [described(repo, made, always_date=True)]}


def described(
    repo: Repository, result: dict[str, Any], always_date: bool = False
) -> dict[str, Any]:
    """A commit made, with git's " Author:" line when the author is not the
    committer, and its " Date:" line when the dates differ or (``always_date``) for
    every commit a pick makes itself, as git prints them."""
    made = repo.objects.read_commit(CommitId(bytes.fromhex(result["id"])))
    author, committer = made.author, made.committer
    dated = always_date or author.timestamp != committer.timestamp
    return {
        **result,
        "author": author.format() if author.format() != committer.format() else None,
        "date": [author.timestamp, author.tz_minutes] if dated else None,
    }


def reset_merge(ctx: OpContext, repo: Repository, target: CommitId) -> None:
    """git's ``reset --merge TARGET`` as ``--abort`` and ``--skip`` use it: every path
    whose staged version (or conflict) differs from TARGET's gets TARGET's, in the
    staging area and the working tree (other local changes and untracked files stay);
    then HEAD moves, logged "reset: moving to ID" (ORIG_HEAD: HEAD before), and the
    pick's state is removed. Refused, nothing changed, where a local change or an
    untracked file would be lost (``reset_merge``)."""
    head = repo.refs.head()
    reset_merge_worktree(repo, target)  # the files first, the ref last (as reset)
    move_head(ctx, repo, head, target, f"reset: moving to {target.hex()}")
    end_merge(repo)
