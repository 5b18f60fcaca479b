"""``commit``: record the staging area as a new commit on the current branch.

Write ordering: the trees and the commit go into the store in one transaction that
also gives every block written since the previous commit this commit's generation;
only after it is durable does the branch ref move (compare-and-swap on its old
value), and then the reflog records it.
"""

from __future__ import annotations

from typing import Any

from cofd.objects.model import Commit, CommitId
from cofd.ops.api import OpContext, op
from cofd.ops.common import identity, staged_flat, tree_of
from cofd.ops.repository import Repository
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


def make_commit(
    ctx: OpContext, repo: Repository, message: str, author: str | None, allow_empty: bool
) -> dict[str, Any]:
    message = clean_message(message)
    if not message:
        raise UsageError("aborting commit due to empty commit message")
    if len(message.encode()) > MAX_MESSAGE_BYTES:
        raise UsageError(f"commit message is larger than {MAX_MESSAGE_BYTES} bytes")
    state = repo.load_state()
    if state.conflicts:
        listed = ", ".join(sorted(state.conflicts)[:10])
        raise ConflictError(
            f"cannot commit: unresolved conflicts in {listed} "
            "(resolve them and 'cof add' each path)"
        )
    author_sig, committer = identity(ctx, author)
    head = repo.refs.head()
    parents = ([head] if head is not None else []) + merge_parents(repo)
    sequence = 1 + max((repo.objects.read_commit(p).sequence for p in parents), default=0)
    with repo.blocks.transaction() as txn:
        tree = build(repo.objects, txn, staged_flat(state))
        # Before the first commit there is no HEAD tree: an empty staging area is
        # "nothing to commit" too, as in git.
        unchanged = tree == tree_of(repo, head) or (head is None and not state.entries)
        if unchanged and not allow_empty and len(parents) < 2:
            raise NothingToCommitError(
                "nothing to commit, working tree clean"
                if head is not None
                else "nothing to commit (create files and use 'cof add' to track them)"
            )
        commit = Commit(tuple(parents), tree, author_sig, committer, message, sequence)
        commit_id = repo.objects.write_commit(txn, commit)
        txn.assign_generation(sequence)
    kind = (
        "commit (initial)" if head is None else ("commit (merge)" if len(parents) > 1 else "commit")
    )
    repo.refs.update("HEAD", commit_id, committer, f"{kind}: {commit.summary}", expected=head)
    (repo.cof_dir / "MERGE_HEAD").unlink(missing_ok=True)
    (repo.cof_dir / "MERGE_MSG").unlink(missing_ok=True)
    return {
        "id": commit_id.hex(),
        "branch": (repo.refs.head_target() or "").removeprefix("refs/heads/") or None,
        "summary": commit.summary,
        "root": head is None,
    }


@op("commit", writes=True)
def commit(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    message = params.get("message")
    if not isinstance(message, str):
        raise UsageError("a commit message is required (-m MSG)")
    return make_commit(ctx, repo, message, params.get("author"), bool(params.get("allow_empty")))
