"""``switch``: git's branch-only checkout, on top of the ``checkout`` operation.

``switch`` adds git's rules to what ``checkout`` does: the target must be a branch
(a tag, a remote-tracking branch or a commit needs ``--detach``: "a branch is
expected, got ..."), it never falls back to paths, ``-C`` resets an existing branch
("branch: Reset to START" in its reflog), and it reports where a detached HEAD was
before it moved ("Previous HEAD position was ..."). The move itself is ``checkout``'s.
"""

from __future__ import annotations

from typing import Any

from cofd.objects.model import CommitId
from cofd.ops.api import OpContext, op
from cofd.ops.branches import HEADS, checkout, describe_head, switch_to
from cofd.ops.common import reflog_signature
from cofd.ops.repository import Repository
from cofd.ops.revisions import expand_previous, refs_named, resolve
from cofd.ops.upstreams import guess_remote_branch
from protocol.errors import RevisionError, UsageError


def _commit(repo: Repository, rev: str) -> CommitId:
    """``rev``'s commit, or git's "invalid reference" error."""
    try:
        return resolve(repo, rev)
    except RevisionError:
        raise RevisionError(f"invalid reference: {rev}") from None


def _not_a_branch(repo: Repository, target: str) -> UsageError:
    """git's refusal of a tag, remote-tracking branch or commit without --detach."""
    ref = next(refs_named(repo, target), "")
    if ref.startswith("refs/tags/"):
        what = "tag"
    elif ref.startswith("refs/remotes/"):
        what = "remote branch"
    else:
        what = "commit"
    return UsageError(
        f"a branch is expected, got {what} '{target}' "
        "(to detach HEAD at the commit, try again with --detach)"
    )


def _previous_position(repo: Repository) -> dict[str, str] | None:
    """The detached HEAD this switch leaves (its id and summary), for git's
    "Previous HEAD position was" line; None when HEAD is on a branch."""
    head = repo.refs.head()
    if head is None or repo.refs.head_target() is not None:
        return None
    return {"commit": head.hex(), "summary": repo.objects.read_commit(head).summary}


def _reset_branch(
    ctx: OpContext, repo: Repository, name: str, start: str | None, force: bool
) -> dict[str, Any]:
    """``switch -C NAME [START]`` for an existing NAME: the files move to START, NAME
    is reset there and HEAD attached to it (git's reflog lines)."""
    ref = HEADS + name
    start_name = start or "HEAD"
    commit = _commit(repo, start_name)
    current = repo.refs.head_target()
    from_name = describe_head(repo)  # as checkout logs it
    result = switch_to(ctx, repo, commit, None, force, "", move_head=False)
    who = reflog_signature(ctx)
    repo.refs.update(ref, commit, who, f"branch: Reset to {start_name}")
    repo.refs.set_head(ref, who, f"checkout: moving from {from_name} to {name}")
    return {**result, "branch": name, "reset": True, "current": current == ref}


def _checkout(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """The ``checkout`` operation does the move."""
    result: dict[str, Any] = checkout(ctx, params)
    return result


def _switch(ctx: OpContext, repo: Repository, params: dict[str, Any]) -> dict[str, Any]:
    target = params.get("target")
    if isinstance(target, str):
        target = expand_previous(repo, target)
    create = params.get("create")
    force = bool(params.get("force"))
    if create:
        if params.get("force_create") and repo.refs.read(HEADS + create) is not None:
            return _reset_branch(ctx, repo, create, target, force)
        if target:
            _commit(repo, target)
        return _checkout(ctx, {"target": target, "new_branch": create, "force": force})
    if params.get("detach"):
        _commit(repo, target or "HEAD")
        return _checkout(ctx, {"target": target or "HEAD", "detach": True, "force": force})
    if not target:
        raise UsageError("missing branch or commit argument")
    if repo.refs.read(HEADS + target) is None:
        try:
            resolve(repo, target)
        except RevisionError:
            if guess_remote_branch(repo, target) is None:
                raise RevisionError(f"invalid reference: {target}") from None
        else:
            raise _not_a_branch(repo, target)
    return _checkout(ctx, {"target": target, "force": force})


@op("switch", writes=True)
def switch(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    if params.get("detach") and params.get("create"):
        raise UsageError("'--detach' cannot be used with '-c/-C'")
    previous = _previous_position(repo)
    result = _switch(ctx, repo, params)
    head = repo.refs.head()
    if previous is not None and (head is None or head.hex() != previous["commit"]):
        result["previous"] = previous
    return result
