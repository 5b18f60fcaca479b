"""``branch``, ``checkout`` and ``tag``."""

from __future__ import annotations

from typing import Any

from cofd.objects.ancestry import is_ancestor
from cofd.objects.model import CommitId, Tag
from cofd.objects.refs import ref_name_problem
from cofd.ops import sequencer
from cofd.ops.api import OpContext, op, unless_listing
from cofd.ops.commit import PICK_STATE_FILES
from cofd.ops.common import flat_tree, identity, reflog_signature, tree_of
from cofd.ops.detached import detached_fields
from cofd.ops.materialize import write_entry
from cofd.ops.paths import in_scope, path_args, repo_relative, shown, under
from cofd.ops.repository import Repository
from cofd.ops.revisions import expand_previous, resolve
from cofd.ops.switch import apply
from cofd.ops.switch_move import move_worktree
from cofd.ops.trees import FlatEntry
from cofd.ops.upstreams import (
    copy_upstream,
    remote_tracking,
    rename_upstream,
    require_remote_tracking,
    set_upstream,
    tracking_state,
    unset_upstream,
)
from cofd.sync.registry import Upstream
from protocol.errors import ConflictError, PathError, UsageError

HEADS = "refs/heads/"
REMOTES = "refs/remotes/"  # remote-tracking branches, moved by fetch
TAGS = "refs/tags/"


def branch_ref(name: str) -> str:
    """``refs/heads/NAME``, or git's refusal of a name a branch cannot have (nor a
    cof branch: one that is not UTF-8, as a name taken from a file name may be)."""
    problem = ref_name_problem(name)
    if problem is None and shown(name) != name:
        problem = "not valid UTF-8"
    if problem is not None or name == "HEAD":
        raise UsageError(f"'{shown(name)}' is not a valid branch name: {problem or 'reserved'}")
    return HEADS + name


def _current_branch(repo: Repository) -> str | None:
    target = repo.refs.head_target()
    return target.removeprefix(HEADS) if target else None


# -- branch ----------------------------------------------------------------------


def _list_branches(repo: Repository, which: str, tracking: bool) -> dict[str, Any]:
    """``which``: "local" (git branch), "remote" (-r: remote-tracking), "all" (-a);
    ``tracking``: give each local branch's upstream state (``branch -v``)."""
    if which not in ("local", "remote", "all"):
        raise UsageError(f"unknown branch listing {which!r}")
    current = _current_branch(repo)
    prefixes = {"local": [HEADS], "remote": [REMOTES], "all": [HEADS, REMOTES]}[which]
    branches = []
    for prefix in prefixes:
        for ref, commit in repo.refs.iter_refs(prefix):
            info = repo.objects.read_commit(commit)
            name = ref.removeprefix(prefix)
            branches.append(
                {
                    "name": name,
                    "ref": ref,
                    "remote": prefix == REMOTES,
                    "commit": commit.hex(),
                    "current": prefix == HEADS and name == current,
                    "summary": info.summary,
                    "upstream": tracking_state(repo, name)
                    if tracking and prefix == HEADS
                    else None,
                }
            )
    head = repo.refs.head()
    return {
        **detached_fields(repo),
        "branches": branches,
        "detached": current is None,
        "head": head.hex() if head else None,
        "head_summary": repo.objects.read_commit(head).summary if head else None,
    }


def create_branch(
    ctx: OpContext, repo: Repository, name: str, start: str | None, force: bool = False
) -> tuple[CommitId, Upstream | None]:
    """Create (or with ``force`` reset) branch ``name`` at ``start``; a branch started
    from a remote-tracking branch tracks it (git's branch.autoSetupMerge)."""
    ref = branch_ref(name)
    commit = resolve(repo, start or "HEAD")
    if repo.refs.read(ref) is not None and not force:
        raise UsageError(f"a branch named '{name}' already exists")
    # git names the current branch when no start is given (HEAD when detached).
    source = start or _current_branch(repo) or "HEAD"
    repo.refs.update(ref, commit, reflog_signature(ctx), f"branch: Created from {source}")
    upstream = remote_tracking(repo, start) if start else None
    if upstream is not None:
        set_upstream(repo, name, upstream)
    return commit, upstream


def _delete_branch(ctx: OpContext, repo: Repository, name: str, force: bool) -> dict[str, Any]:
    ref = HEADS + name
    commit = repo.refs.read(ref)
    if commit is None:
        raise UsageError(f"branch '{name}' not found")
    if name == _current_branch(repo):
        raise UsageError(f"cannot delete branch '{name}': it is checked out")
    head = repo.refs.head()
    if not force and (head is None or not is_ancestor(repo.objects.read_commit, commit, head)):
        raise UsageError(
            f"the branch '{name}' is not fully merged "
            f"(use 'cof branch -D {name}' to delete it anyway)"
        )
    repo.refs.update(ref, None, reflog_signature(ctx), "branch: deleted", expected=commit)
    unset_upstream(repo, name)
    return {"deleted": name, "commit": commit.hex()}


def _old_and_new(repo: Repository, params: dict[str, Any], verb: str) -> tuple[str, str]:
    """``branch -m|-c [OLD] NEW``: OLD defaults to the current branch (git)."""
    new = params.get("new_name")
    old = params.get("name")
    if not isinstance(new, str) or not new:
        raise UsageError("branch name required")
    if old is None:
        old = _current_branch(repo)
        if old is None:
            raise UsageError(f"cannot {verb} the current branch while not on any branch")
    if not isinstance(old, str) or not old:
        raise UsageError("branch name required")
    return old, new


def _check_target(repo: Repository, old: str, new: str, force: bool) -> None:
    """NEW must not exist (``-M``/``-C``: may, unless it is checked out elsewhere)."""
    if old == new or repo.refs.read(branch_ref(new)) is None:
        return
    if not force:
        raise UsageError(f"a branch named '{new}' already exists")
    if new == _current_branch(repo):
        raise UsageError(f"cannot force update the branch '{new}': it is checked out")


def _rename_branch(ctx: OpContext, repo: Repository, params: dict[str, Any]) -> dict[str, Any]:
    """git's ``branch -m [OLD] NEW`` (``-M``: over an existing NEW): the branch keeps
    its reflog (with one more line), its upstream and HEAD; NEW may be below OLD's
    name (``x`` to ``x/y``) or above it. The current branch may be renamed before its
    first commit."""
    old, new = _old_and_new(repo, params, "rename")
    force = bool(params.get("force"))
    old_ref, new_ref = branch_ref(old), branch_ref(new)
    commit = repo.refs.read(old_ref)
    if commit is None and _current_branch(repo) != old:
        raise UsageError(f"branch '{old}' not found")
    _check_target(repo, old, new, force)
    who = reflog_signature(ctx)
    message = f"Branch: renamed {old_ref} to {new_ref}"  # git's words, capital B
    if commit is not None:
        replaced = force and old != new and repo.refs.read(new_ref) is not None
        repo.refs.rename(old_ref, new_ref, who, message, replace=replaced)
        if replaced:
            unset_upstream(repo, new)  # NEW is OLD now, upstream included
    elif clash := repo.refs.clash(new_ref):
        raise ConflictError(f"cannot create {new_ref}: {clash} exists")
    else:  # the current branch, before its first commit: HEAD alone moves
        repo.refs.set_head(new_ref, who, message, log=False)
    rename_upstream(repo, old, new)
    return {"renamed": old, "to": new}


def _copy_branch(ctx: OpContext, repo: Repository, params: dict[str, Any]) -> dict[str, Any]:
    """git's ``branch -c [OLD] NEW`` (``-C``: over an existing NEW): NEW starts at
    OLD's commit with a copy of its reflog and its upstream; HEAD stays where it is."""
    old, new = _old_and_new(repo, params, "copy")
    force = bool(params.get("force"))
    old_ref, new_ref = branch_ref(old), branch_ref(new)
    if repo.refs.read(old_ref) is None:
        if _current_branch(repo) == old:
            raise UsageError(f"no commit on branch '{old}' yet")
        raise UsageError(f"branch '{old}' not found")
    _check_target(repo, old, new, force)
    message = f"Branch: copied {old_ref} to {new_ref}"  # git's words
    if old == new:  # git logs the no-op copy too
        commit = repo.refs.read(old_ref)
        repo.refs.update(old_ref, commit, reflog_signature(ctx), message, expected=commit)
        return {"copied": old, "to": new}
    replaced = repo.refs.read(new_ref) is not None
    repo.refs.copy(old_ref, new_ref, reflog_signature(ctx), message, replace=replaced)
    copy_upstream(repo, old, new)
    return {"copied": old, "to": new}


def _branch_writes(params: dict[str, Any]) -> bool:
    """Listing and ``--show-current`` only read; every other action writes."""
    return (params.get("action") or "list") not in ("list", "current")


@op("branch", writes=_branch_writes)
def branch(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    action = params.get("action", "list")
    if action == "list":
        which = str(params.get("which") or "local")
        return _list_branches(repo, which, bool(params.get("tracking")))
    if action == "current":  # --show-current: an unborn branch too, None when detached
        return {"branch": _current_branch(repo)}
    if action in ("set_upstream", "unset_upstream"):
        return _edit_upstream(repo, action, params)
    if action == "rename":
        return _rename_branch(ctx, repo, params)
    if action == "copy":
        return _copy_branch(ctx, repo, params)
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError("a branch name is required")
    if action == "create":
        commit, upstream = create_branch(
            ctx, repo, name, params.get("start"), bool(params.get("force"))
        )
        tracks = upstream.to_dict() if upstream else None
        return {"created": name, "commit": commit.hex(), "upstream": tracks}
    if action == "delete":
        return _delete_branch(ctx, repo, name, bool(params.get("force")))
    raise UsageError(f"unknown branch action {action!r}")


def _edit_upstream(repo: Repository, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """``branch -u UPSTREAM [BRANCH]`` and ``branch --unset-upstream [BRANCH]``; the
    branch defaults to the current one."""
    name = params.get("name") or _current_branch(repo)
    if not isinstance(name, str) or not name:
        raise UsageError("HEAD is detached: name the branch")
    if repo.refs.read(branch_ref(name)) is None:
        raise UsageError(f"branch '{name}' not found")
    if action == "unset_upstream":
        if not unset_upstream(repo, name):
            raise UsageError(f"branch '{name}' has no upstream information")
        return {"branch": name, "upstream": None}
    upstream = require_remote_tracking(repo, str(params.get("upstream") or ""))
    set_upstream(repo, name, upstream)
    return {"branch": name, "upstream": upstream.to_dict()}


# -- checkout --------------------------------------------------------------------


def checkout_paths(
    ctx: OpContext, repo: Repository, paths: object, rev: str | None = None, side: str | None = None
) -> dict[str, Any]:
    """``checkout [REV] -- PATH...`` and ``checkout --ours|--theirs PATH...``
    (``paths``: a request's path arguments, see :func:`cofd.ops.paths.path_args`)."""
    state = repo.load_state()
    args = path_args(paths)
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in args]
    todo: dict[str, tuple[FlatEntry | None, FlatEntry | None]] = {}
    if side:
        stage = 2 if side == "ours" else 3
        for path, sides in state.conflicts.items():
            if in_scope(path, specs):
                if stage not in sides:
                    raise PathError(f"'{path}' does not have {side} version")
                e = sides[stage]
                todo[path] = (None, FlatEntry(e.mode, e.id, e.size))
        if not todo:
            raise PathError("no unmerged paths match " + ", ".join(map(shown, args)))
        for path, (_, new) in sorted(todo.items()):
            assert new is not None
            write_entry(repo, path, new)
        return {"written": len(todo)}
    if rev:
        source = flat_tree(repo, resolve(repo, expand_previous(repo, rev)))
    else:
        source = {p: FlatEntry(e.mode, e.id, e.size) for p, e in state.entries.items()}
    known = sorted(source)
    for arg, spec in zip(args, specs, strict=True):
        hits = under(known, spec)
        if not hits:
            raise PathError(f"pathspec '{shown(arg)}' did not match any file(s) known to cof")
        for p in hits:
            todo[p] = (None, source[p])
    result = apply(repo, state, todo)
    repo.save_state(state)
    return {"written": result.written}


def end_merge(repo: Repository) -> None:
    """Forget a merge, cherry-pick or revert in progress, as git's checkout and reset
    do (what was resolved so far stays in the staging area and the working tree).
    A stopped pick that was its series' last ends the series too (git's
    ``remove_branch_state``); an earlier one leaves it for ``--continue``."""
    if any((repo.cof_dir / name).exists() for name in PICK_STATE_FILES):
        sequencer.end_after_last_pick(repo)
    for name in ("MERGE_HEAD", "MERGE_MSG", *PICK_STATE_FILES):
        (repo.cof_dir / name).unlink(missing_ok=True)


def switch_to(
    ctx: OpContext,
    repo: Repository,
    target: CommitId,
    ref: str | None,
    force: bool,
    message: str,
    move_head: bool = True,
    merge_label: str | None = None,
) -> dict[str, Any]:
    """Move files, staging area and HEAD to ``target`` (``merge_label``: the target's
    name, to merge local changes in the way into it, as ``checkout -m``)."""
    state = repo.load_state()
    head = repo.refs.head()
    current, wanted = tree_of(repo, head), tree_of(repo, target)
    result = move_worktree(ctx, repo, state, current, wanted, force, merge_label)
    repo.save_state(state)
    end_merge(repo)
    if move_head:
        # As git: staying detached at the same commit moves nothing and logs nothing.
        stays = ref is None and repo.refs.head_target() is None and head == target
        repo.refs.set_head(ref if ref else target, reflog_signature(ctx), message, log=not stays)
    return {
        "written": result.written,
        "removed": result.removed,
        "commit": target.hex(),
        "branch": ref.removeprefix(HEADS) if ref else None,
    }


def describe_head(repo: Repository) -> str:
    """HEAD as checkout's reflog names it: the branch, or a detached commit's 12 digits."""
    branch_name = _current_branch(repo)
    if branch_name:
        return branch_name
    head = repo.refs.head()
    return head.hex()[:12] if head else "HEAD"


def _new_branch_at(ctx: OpContext, repo: Repository, name: str, start: str) -> dict[str, Any]:
    """A new branch ``name`` at ``start``, checked out (HEAD moves once, onto the new
    branch: one reflog entry, as git writes)."""
    ref = branch_ref(name)
    if repo.refs.read(ref) is not None:
        raise UsageError(f"a branch named '{name}' already exists")
    from_name = describe_head(repo)
    commit = resolve(repo, start)
    result = switch_to(ctx, repo, commit, None, False, "", move_head=False)
    repo.refs.update(ref, commit, reflog_signature(ctx), f"branch: Created from {start}")
    repo.refs.set_head(ref, reflog_signature(ctx), f"checkout: moving from {from_name} to {name}")
    return {**result, "branch": name, "created": True}


@op("checkout", writes=True)
def checkout(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """``checkout [REV] -- PATH...`` and ``--ours``/``--theirs`` (``paths``, ``rev``,
    ``side``), and ``stash branch``'s new branch (``new_branch`` at ``target``).
    Switching branches, as both ``checkout`` and ``switch`` do, is the ``switch``
    operation's (:mod:`cofd.ops.switch_branch`)."""
    repo = ctx.require_repo()
    if params.get("paths"):
        return checkout_paths(ctx, repo, params["paths"], params.get("rev"), params.get("side"))
    name, start = params.get("new_branch"), params.get("target")
    if not isinstance(name, str) or not name or not isinstance(start, str) or not start:
        raise UsageError("checkout needs paths, or a new branch and where it starts")
    return _new_branch_at(ctx, repo, name, start)


# -- tag -------------------------------------------------------------------------


@op("tag", writes=unless_listing)
def tag(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    action = params.get("action", "list")
    if action == "list":
        return {
            "tags": [
                {
                    "name": ref.removeprefix(TAGS),
                    "commit": repo.objects.peel(value).hex(),
                    "annotated": repo.objects.kind_of(value) == "tag",
                }
                for ref, value in repo.refs.iter_refs(TAGS)
            ]
        }
    name = params.get("name")
    problem = ref_name_problem(name) if isinstance(name, str) else "missing"
    if problem is not None or not isinstance(name, str):
        raise UsageError(f"'{name}' is not a valid tag name: {problem}")
    ref = TAGS + name
    if action == "delete":
        value = repo.refs.read(ref)
        if value is None:
            raise UsageError(f"tag '{name}' not found")
        repo.refs.update(ref, None, reflog_signature(ctx), "tag: deleted", expected=value)
        return {"deleted": name, "was": value.hex()}
    if repo.refs.read(ref) is not None and not params.get("force"):
        raise UsageError(f"tag '{name}' already exists")
    commit = resolve(repo, params.get("rev") or "HEAD")
    value = commit
    message = params.get("message")
    if params.get("annotate") or message:
        if not message or not message.strip():
            raise UsageError("an annotated tag needs a message (-m MSG)")
        tagger = identity(ctx, None)[1]
        with repo.blocks.transaction() as txn:
            value = CommitId(
                repo.objects.write_tag(txn, Tag(commit, name, tagger, message.strip() + "\n"))
            )
    repo.refs.update(ref, value, reflog_signature(ctx), f"tag: {name}")
    return {"created": name, "commit": commit.hex(), "object": value.hex()}
