"""``switch``, and ``checkout`` when it switches branches (not when it restores
paths): one operation, git's rules for each command.

``switch`` wants a branch: a tag, a remote-tracking branch or a commit needs
``--detach`` ("a branch is expected, got ..."), and it never falls back to paths;
``checkout`` detaches HEAD at anything that names a commit, else restores the paths
the name matches (not when the name came before ``--``: "invalid reference"). Both
create (``-c``/``-b``), create or reset (``-C``/``-B``:
"branch: Reset to START" in its reflog), make an unborn branch (``--orphan``), make
a branch NAME tracking ``R/NAME`` when only the remote R has one (git's ``--guess``,
``--no-guess`` turns it off), set the upstream of a new branch (``-t``/``--track``,
or by default when it starts from a remote-tracking branch; ``--no-track``: never)
and merge local changes in the way (``-m``, :mod:`cofd.ops.switch_move`). A name
that is both a file and a branch only one remote has is refused by ``checkout``
without ``--``, as git: either could be meant. The move itself is
:func:`cofd.ops.branches.switch_to`.

What the messages need comes with the result: the detached HEAD left behind
("Previous HEAD position was ..."), the commits only it reached ("you are leaving N
commits behind", :mod:`cofd.ops.left_behind`) and the local changes carried along
(:mod:`cofd.ops.local_changes`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from cofd.objects.model import CommitId
from cofd.ops.api import OpContext, op
from cofd.ops.branches import (
    HEADS,
    branch_ref,
    checkout_paths,
    describe_head,
    end_merge,
    switch_to,
)
from cofd.ops.common import reflog_signature
from cofd.ops.left_behind import left_behind_report
from cofd.ops.local_changes import local_changes
from cofd.ops.orphan_branch import switch_to_orphan
from cofd.ops.paths import shown
from cofd.ops.repository import Repository
from cofd.ops.revisions import expand_previous, refs_named, resolve
from cofd.ops.switch import check
from cofd.ops.switch_request import SwitchRequest
from cofd.ops.upstreams import (
    guess_remote_branch,
    remote_tracking,
    set_upstream,
    tracking_against,
    tracking_state,
    upstream_of,
)
from cofd.sync.registry import Upstream
from protocol.errors import RevisionError, UsageError


def _commit(repo: Repository, rev: str) -> CommitId:
    """``rev``'s commit, or git's "invalid reference" error."""
    try:
        return resolve(repo, rev)
    except RevisionError:
        raise RevisionError(f"invalid reference: {shown(rev)}") from None


def _start_commit(repo: Repository, request: SwitchRequest, start: str, name: str) -> CommitId:
    """The commit a new branch starts at, or the command's refusal in git's words."""
    if request.command == "switch":
        return _commit(repo, start)
    try:
        return resolve(repo, start)
    except RevisionError:
        raise RevisionError(
            f"'{shown(start)}' is not a commit and a branch '{name}' cannot be created from it"
        ) from None


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


def _upstream(repo: Repository, request: SwitchRequest, start: str | None) -> Upstream | None:
    """What a new branch tracks: START when it is a remote-tracking branch (unless
    ``--no-track``); with ``--track`` it must be one (cof's upstreams are remote
    branches: git would also track a local branch)."""
    if request.track is False:
        return None
    if request.track is None:
        return remote_tracking(repo, start) if start else None
    name = start or describe_head(repo)
    upstream = remote_tracking(repo, name)
    if upstream is not None:
        return upstream
    if repo.refs.read(HEADS + name) is not None or repo.refs.head_target() == HEADS + name:
        raise UsageError(
            f"cannot track the local branch '{name}': an upstream is a remote-tracking "
            "branch (such as origin/main)"
        )
    raise UsageError(
        f"cannot set up tracking information; starting point '{start or 'HEAD'}' is not a branch"
    )


def _to_new_branch(
    ctx: OpContext, repo: Repository, request: SwitchRequest, name: str, start: str | None
) -> dict[str, Any]:
    """``-c``/``-b`` NAME (refused if it exists) and ``-C``/``-B`` NAME (reset if it
    exists) at START (default HEAD), and a guessed tracking branch: the files move,
    the branch is created or reset there, then HEAD attaches to it (git's reflog
    lines: one for the branch, one for HEAD)."""
    ref = branch_ref(name)
    exists = repo.refs.read(ref) is not None
    if exists and not request.reset:
        raise UsageError(f"a branch named '{name}' already exists")
    from_name = describe_head(repo)
    who = reflog_signature(ctx)
    moving = f"checkout: moving from {from_name} to {name}"
    if start is None and repo.refs.head() is None and not exists:
        # On an unborn branch: HEAD moves to the new, still unborn, branch (no commit
        # to log, as git); the staging area stays.
        repo.refs.set_head(ref, who, moving, log=False)
        return {"branch": name, "created": True, "written": 0, "removed": 0}
    start_name = start or "HEAD"
    commit = _start_commit(repo, request, start_name, name)
    upstream = _upstream(repo, request, start)
    was_current = repo.refs.head_target() == ref
    tracked = upstream_of(repo, name) if exists else None
    merge_label = start_name if request.merge else None
    result = switch_to(ctx, repo, commit, None, request.force, "", False, merge_label)
    if not exists:
        repo.refs.update(ref, commit, who, f"branch: Created from {start_name}")
    elif repo.refs.read(ref) != commit:  # git logs no reset that moves nothing
        repo.refs.update(ref, commit, who, f"branch: Reset to {start_name}")
    repo.refs.set_head(ref, who, moving)
    if upstream is not None:
        set_upstream(repo, name, upstream)
    return {
        **result,
        "branch": name,
        "created": not exists,
        "reset": exists,
        "current": was_current,
        "upstream": upstream.to_dict() if upstream else None,
        "tracking": tracking_against(repo, name, tracked),
    }


def _to_orphan(ctx: OpContext, repo: Repository, request: SwitchRequest) -> dict[str, Any]:
    assert request.orphan is not None
    start = None
    if request.command == "checkout":  # keeps START's files (HEAD's by default)
        name = request.target or "HEAD"
        start = _start_commit(repo, request, name, request.orphan)
    return switch_to_orphan(ctx, repo, request.orphan, start, request.force, request.merge_label)


def _to_branch(
    ctx: OpContext, repo: Repository, request: SwitchRequest, name: str
) -> dict[str, Any]:
    """HEAD attaches to the existing branch ``name``, the files moving there."""
    ref = HEADS + name
    message = f"checkout: moving from {describe_head(repo)} to {name}"
    if repo.refs.head_target() == ref and not request.force:
        check(repo, repo.load_state(), {}, "checkout")  # refuses unmerged paths
        end_merge(repo)
        # Logged although nothing moves, as git does: `checkout -` counts it.
        repo.refs.set_head(ref, reflog_signature(ctx), message)
        tracking = tracking_state(repo, name)
        return {"branch": name, "already": True, "written": 0, "removed": 0, "tracking": tracking}
    commit = repo.refs.read(ref)
    assert commit is not None
    result = switch_to(
        ctx, repo, commit, ref, request.force, message, merge_label=request.merge_label
    )
    return {**result, "tracking": tracking_state(repo, name)}


def _detach_at(
    ctx: OpContext, repo: Repository, request: SwitchRequest, rev: str
) -> dict[str, Any]:
    """HEAD detaches at ``rev``'s commit, the files moving there."""
    commit = _commit(repo, rev)
    message = f"checkout: moving from {describe_head(repo)} to {rev}"
    result = switch_to(
        ctx, repo, commit, None, request.force, message, merge_label=request.merge_label
    )
    return {**result, "detached": True, "summary": repo.objects.read_commit(commit).summary}


def _to_target(ctx: OpContext, repo: Repository, request: SwitchRequest) -> dict[str, Any]:
    """An existing branch, a commit (checkout detaches; switch refuses), or a name
    that is neither (:func:`_to_no_revision`)."""
    target = request.target
    if not target:
        if request.command == "switch":
            raise UsageError("missing branch or commit argument")
        raise UsageError("checkout needs a branch, a revision or paths")
    if repo.refs.read(HEADS + target) is not None:
        return _to_branch(ctx, repo, request, target)
    try:
        resolve(repo, target)
    except RevisionError:
        return _to_no_revision(ctx, repo, request, target)
    if request.command == "switch":
        raise _not_a_branch(repo, target)
    return _detach_at(ctx, repo, request, target)


def _to_no_revision(
    ctx: OpContext, repo: Repository, request: SwitchRequest, target: str
) -> dict[str, Any]:
    """git's order for a name that is no commit: the branch only one remote has
    (guessed: NAME is made to track R/NAME), then checkout's paths; else an
    invalid reference. A file of that name makes checkout's guess ambiguous."""
    guessed = guess_remote_branch(repo, target) if request.guess else None
    if guessed is not None:
        if request.may_be_paths and os.path.lexists(os.path.join(ctx.cwd, target)):
            raise UsageError(
                f"'{shown(target)}' could be both a local file and a tracking branch. "
                "Please use -- (and optionally --no-guess) to disambiguate"
            )
        return _to_new_branch(ctx, repo, request, target, guessed.text())
    if not request.may_be_paths:
        raise RevisionError(f"invalid reference: {shown(target)}")
    return checkout_paths(ctx, repo, [target])


def _switch(ctx: OpContext, repo: Repository, request: SwitchRequest) -> dict[str, Any]:
    if request.orphan:
        return _to_orphan(ctx, repo, request)
    if request.new_branch:
        return _to_new_branch(ctx, repo, request, request.new_branch, request.target)
    if request.detach:
        return _detach_at(ctx, repo, request, request.target or "HEAD")
    return _to_target(ctx, repo, request)


def _lists_local_changes(request: SwitchRequest) -> bool:
    """Whether git lists the local changes after this switch: not with -q or -f, nor
    when it moves no file by design (git's switch without a target, checkout -b NEW
    alone, an orphan switch)."""
    if request.quiet or request.force:
        return False
    if request.command == "switch":
        return request.target is not None and request.orphan is None
    return not (request.create and request.target is None)


@op("switch", writes=True)
def switch(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    request = SwitchRequest.parse(params)
    if request.target:  # `-` / `@{-N}`: the branch by name, so HEAD attaches to it
        request = replace(request, target=expand_previous(repo, request.target))
    detached = repo.refs.head() if repo.refs.head_target() is None else None
    result = _switch(ctx, repo, request)
    # Where HEAD went, as git sees it: an orphan branch is at its START (none for
    # switch), so `checkout --orphan` from a detached HEAD leaves nothing behind.
    head = repo.refs.head()
    if request.orphan:
        head = CommitId(bytes.fromhex(result["commit"])) if result.get("commit") else None
    if request.quiet or not ("branch" in result or "commit" in result):
        return result  # nothing to tell, or checkout restored paths
    if detached is not None and head != detached:
        lost = left_behind_report(repo, detached, head)
        if lost["count"]:
            result["left_behind"] = lost
        else:
            summary = repo.objects.read_commit(detached).summary
            result["previous"] = {"commit": detached.hex(), "summary": summary}
    if _lists_local_changes(request) and head is not None:
        result["local_changes"] = [list(change) for change in local_changes(repo, head)]
    return result
