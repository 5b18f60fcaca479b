"""``commit``: record the staging area as a new commit on the current branch.

Write ordering: the trees and the commit go into the store in one transaction that
also gives every block written since the previous commit this commit's generation;
only after it is durable does the branch ref move (compare-and-swap on its old
value), and then the reflog records it.

``commit -a`` first stages modified and deleted tracked files (git's ``add -u``) into
the in-memory staging area; it is saved only once the commit is durable and before
the ref moves, so a refused commit (empty message, nothing to commit) leaves the
staging area as it was, as git's temporary index does. ``commit --amend`` replaces
the tip: the new commit takes the old tip's parents (a merge stays a merge), and
keeps its author and, without ``-m``, its message.
"""

from __future__ import annotations

from typing import Any

from cofd.objects.model import Commit, CommitId, Signature
from cofd.objects.worktree_state import WorktreeState
from cofd.ops import sequencer
from cofd.ops.api import OpContext, op
from cofd.ops.common import identity, staged_flat, tree_of
from cofd.ops.repository import Repository
from cofd.ops.stage import stage_tracked
from cofd.ops.trees import build
from protocol.errors import ConflictError, NothingToCommitError, UsageError

MAX_MESSAGE_BYTES = 1024 * 1024


def clean_message(message: str) -> str:
    """Strip trailing whitespace per line and surrounding blank lines, as git does."""
    lines = [line.rstrip() for line in message.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    return text + "\n" if text else ""


def merge_parents(repo: Repository) -> list[CommitId]:
    """Extra parents recorded by a merge in progress (``.cof/MERGE_HEAD``)."""
    path = repo.cof_dir / "MERGE_HEAD"
    if not path.exists():
        return []
    return [CommitId(bytes.fromhex(line)) for line in path.read_text().split() if line]


def _checked_message(message: str) -> str:
    message = clean_message(message)
    if not message:
        raise UsageError("aborting commit due to empty commit message")
    if len(message.encode()) > MAX_MESSAGE_BYTES:
        raise UsageError(f"commit message is larger than {MAX_MESSAGE_BYTES} bytes")
    return message


def _refuse_conflicts(state: WorktreeState) -> None:
    if state.conflicts:
        listed = ", ".join(sorted(state.conflicts)[:10])
        raise ConflictError(
            f"cannot commit: unresolved conflicts in {listed} "
            "(resolve them and 'cof add' each path)"
        )


def _tip_to_amend(repo: Repository, head: CommitId | None) -> Commit:
    """The commit ``--amend`` replaces; refused where git refuses it."""
    if head is None:
        raise UsageError("you have nothing to amend (the current branch has no commits yet)")
    if (repo.cof_dir / "MERGE_HEAD").exists():
        raise ConflictError(
            "you are in the middle of a merge -- cannot amend "
            "(conclude it with 'cof commit' or 'cof merge --abort' first)"
        )
    return repo.objects.read_commit(head)


def _nothing_to_commit(base: CommitId | None, amend: bool) -> NothingToCommitError:
    if amend:
        return NothingToCommitError(
            "amending would leave the commit with no changes from its parent "
            "(use --allow-empty to amend anyway)"
        )
    return NothingToCommitError(
        "nothing to commit, working tree clean"
        if base is not None
        else "nothing to commit (create files and use 'cof add' to track them)"
    )


# Left in .cof by a cherry-pick or revert that stopped; a commit concludes it (git),
# and the series it belonged to if it was the last pick (.cof/sequencer, see there).
PICK_STATE_FILES = ("CHERRY_PICK_HEAD", "REVERT_HEAD")


def _picked(repo: Repository) -> Commit | None:
    """The commit a cherry-pick in progress applies (its author is kept, as git)."""
    path = repo.cof_dir / "CHERRY_PICK_HEAD"
    if not path.exists():
        return None
    return repo.objects.read_commit(CommitId(bytes.fromhex(path.read_text().strip())))


def _reflog_kind(head: CommitId | None, parents: list[CommitId], amend: bool, pick: bool) -> str:
    if amend:
        return "commit (amend)"
    if pick:
        return "commit (cherry-pick)"
    if head is None:
        return "commit (initial)"
    return "commit (merge)" if len(parents) > 1 else "commit"


def _write_commit(
    repo: Repository,
    state: WorktreeState,
    parents: list[CommitId],
    signatures: tuple[Signature, Signature],
    message: str,
    allow_empty: bool,
    amend: bool,
) -> tuple[CommitId, Commit]:
    """Store the staging area's trees and the commit; refuse a commit that changes
    nothing against its first parent (a merge always records something)."""
    base = parents[0] if parents else None
    sequence = 1 + max((repo.objects.read_commit(p).sequence for p in parents), default=0)
    with repo.blocks.transaction() as txn:
        tree = build(repo.objects, txn, staged_flat(state))
        # Without a parent there is no tree to compare with: an empty staging area is
        # "nothing to commit" too, as in git.
        unchanged = tree == tree_of(repo, base) or (base is None and not state.entries)
        if unchanged and not allow_empty and len(parents) < 2:
            raise _nothing_to_commit(base, amend)
        author, committer = signatures
        commit = Commit(tuple(parents), tree, author, committer, message, sequence)
        commit_id = repo.objects.write_commit(txn, commit)
        txn.assign_generation(sequence)
    return commit_id, commit


def make_commit(
    ctx: OpContext,
    repo: Repository,
    message: str | None,
    author: str | None,
    allow_empty: bool,
    *,
    amend: bool = False,
    stage_all: bool = False,
    reflog: str | None = None,
) -> dict[str, Any]:
    """Commit the staging area (after staging tracked files' changes with
    ``stage_all``); ``amend`` replaces the tip, ``message`` None keeping its message.
    During a cherry-pick the picked commit's author is kept; ``reflog`` replaces the
    reflog line's kind ("cherry-pick", "revert")."""
    head = repo.refs.head()
    replaced = _tip_to_amend(repo, head) if amend else None
    if message is None:
        if replaced is None:
            raise UsageError("a commit message is required (-m MSG)")
        message = replaced.message
    message = _checked_message(message)
    author_sig, committer = identity(ctx, author)  # refused before any staging work
    state = repo.load_state()
    if stage_all:
        stage_tracked(ctx, repo, state)
    _refuse_conflicts(state)
    if replaced is not None:
        parents = list(replaced.parents)
        if author is None:  # as git: the amended commit keeps its author and date
            author_sig = replaced.author
    else:
        parents = ([head] if head is not None else []) + merge_parents(repo)
    picked = None if amend else _picked(repo)
    if picked is not None and author is None:
        author_sig = picked.author
    commit_id, commit = _write_commit(
        repo, state, parents, (author_sig, committer), message, allow_empty, amend
    )
    if stage_all:
        repo.save_state(state)  # before the ref moves: never a new HEAD with an old index
    kind = reflog or _reflog_kind(head, parents, amend, picked is not None)
    repo.refs.update("HEAD", commit_id, committer, f"{kind}: {commit.summary}", expected=head)
    concluded_pick = any((repo.cof_dir / name).exists() for name in PICK_STATE_FILES)
    for name in ("MERGE_HEAD", "MERGE_MSG", *PICK_STATE_FILES):
        (repo.cof_dir / name).unlink(missing_ok=True)
    if concluded_pick:
        sequencer.end_after_last_pick(repo)
    return {
        "id": commit_id.hex(),
        "branch": (repo.refs.head_target() or "").removeprefix("refs/heads/") or None,
        "summary": commit.summary,
        "root": head is None,
        "amended": amend,
    }


@op("commit", writes=True)
def commit(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    message = params.get("message")
    if message is not None and not isinstance(message, str):
        raise UsageError("the commit message must be text")
    return make_commit(
        ctx,
        repo,
        message,
        params.get("author"),
        bool(params.get("allow_empty")),
        amend=bool(params.get("amend")),
        stage_all=bool(params.get("all")),
    )
