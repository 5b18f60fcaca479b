"""``stash``: push, list, show, apply, pop, drop, clear and branch, as git's.

The list of stashes is the reflog of ``refs/stash``, newest first (``stash@{0}``);
the ref names the newest. Dropping an entry rewrites the reflog (one atomic rename:
the drop happens or not; as git's, each line's old side becomes the new side of the
line below it, so no line names the dropped stash) and then moves the ref to the new
newest entry, deleting both with the last one. Reflogs are gc roots (old and new
sides), so every listed stash keeps its content, and a dropped one does not. See
``stash_push`` and ``stash_apply`` for the two halves that do the work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cofd.objects.model import CommitId
from cofd.objects.refs import ReflogEntry
from cofd.ops.api import OpContext, op
from cofd.ops.branches import checkout
from cofd.ops.common import reflog_signature
from cofd.ops.diff_op import diff
from cofd.ops.paths import path_args
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from cofd.ops.stash_apply import apply_stash
from cofd.ops.stash_journal import STASH_REF
from cofd.ops.stash_push import PushOptions, push
from cofd.ops.status import compute
from protocol.errors import RevisionError, UsageError

# ``stash@{N}`` / ``refs/stash@{N}`` / ``@{N}`` / ``stash`` (the newest); a bare ``N``
# means ``refs/stash@{N}`` (git).
_ENTRY = re.compile(r"^(?:(?:refs/)?stash(?:@\{(?P<n>\d+)\})?|@\{(?P<at>\d+)\})$")
_READERS = ("list", "show")


@dataclass(frozen=True, slots=True)
class Stash:
    """A stash named on the command line: ``name`` as git prints it (``refs/stash@{0}``
    when none was given), its place in the list (None: a commit named otherwise)."""

    name: str
    number: int | None
    commit: CommitId


def listed(repo: Repository) -> list[ReflogEntry]:
    return repo.refs.reflog(STASH_REF)


def find(repo: Repository, arg: str | None, *, listed_only: bool = False) -> Stash:
    """The stash ``arg`` names (default the newest); ``listed_only``: it must be an
    entry of the list (drop, pop), not any stash-like commit (apply, show)."""
    entries = listed(repo)
    match = _ENTRY.match(arg) if arg is not None else None
    if arg is None or match is not None or (arg.isascii() and arg.isdigit()):
        if not entries:
            raise RevisionError("No stash entries found.")
        digits = arg if match is None else (match["n"] or match["at"])
        number = int(digits or 0)
        if number >= len(entries) or entries[number].new is None:
            raise RevisionError(f"{arg} is not a valid reference")
        name = arg if match is not None and arg is not None else f"{STASH_REF}@{{{number}}}"
        commit = entries[number].new
        assert commit is not None
        return Stash(name, number, commit)
    if listed_only:
        raise UsageError(f"'{arg}' is not a stash reference")
    commit = resolve(repo, arg)
    if len(repo.objects.read_commit(commit).parents) < 2:
        raise UsageError(f"'{arg}' is not a stash-like commit")
    return Stash(arg, None, commit)


def drop(ctx: OpContext, repo: Repository, stash: Stash) -> dict[str, str]:
    """Remove a listed stash: its reflog line, then the ref follows the list."""
    number = stash.number
    assert number is not None
    who = reflog_signature(ctx)
    remaining = listed(repo)
    if len(remaining) <= 1:
        clear(ctx, repo)
    else:
        # As git's ``reflog delete --rewrite``: the line above the dropped one takes
        # the line below's id as its old side, so no line names the dropped stash
        # (reflogs are gc roots, old side and new: it would be kept until expiry).
        repo.refs.rewrite_reflog(STASH_REF, lambda n, _: n != number, rewrite=True)
        if number == 0:
            repo.refs.update(STASH_REF, remaining[1].new, who, "", log=False)
    return {"name": stash.name, "commit": stash.commit.hex()}


def clear(ctx: OpContext, repo: Repository) -> None:
    """Delete the ref, then its reflog (a kill in between keeps the list whole)."""
    if repo.refs.read(STASH_REF) is not None:
        repo.refs.update(STASH_REF, None, reflog_signature(ctx), "", log=False)
    repo.refs.rewrite_reflog(STASH_REF, lambda _n, _e: False)


def _apply(ctx: OpContext, repo: Repository, params: dict[str, Any], pop: bool) -> dict[str, Any]:
    stash = find(repo, params.get("stash"), listed_only=pop)
    result = apply_stash(repo, stash.commit, bool(params.get("index")))
    dropped = drop(ctx, repo, stash) if pop and not result["conflicts"] else None
    return {**result, "dropped": dropped, "status": compute(repo, repo.load_state(), [])}


def _branch(ctx: OpContext, repo: Repository, params: dict[str, Any]) -> dict[str, Any]:
    """``stash branch NAME [STASH]``: a new branch at the stash's base, checked out,
    the stash applied with its staged changes, and dropped if that went cleanly."""
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError("No branch name specified")
    stash = find(repo, params.get("stash"))
    base = repo.objects.read_commit(stash.commit).parents[0]
    switched = checkout(ctx, {"new_branch": name, "target": base.hex()})
    result = apply_stash(repo, stash.commit, True)
    clean = not result["conflicts"] and stash.number is not None
    dropped = drop(ctx, repo, stash) if clean else None
    status = compute(repo, repo.load_state(), [])
    return {**result, "branch": switched["branch"], "dropped": dropped, "status": status}


def _list(repo: Repository) -> dict[str, Any]:
    return {
        "entries": [
            {
                "name": f"stash@{{{n}}}",
                "commit": e.new.hex() if e.new else None,
                "message": e.message,
            }
            for n, e in enumerate(listed(repo))
        ]
    }


def _show(ctx: OpContext, repo: Repository, params: dict[str, Any]) -> dict[str, Any]:
    """What the stash changed against its base, as ``diff`` reports two revisions."""
    stash = find(repo, params.get("stash"))
    base = repo.objects.read_commit(stash.commit).parents[0]
    mode = "patch" if params.get("patch") else "stat"
    result: dict[str, Any] = diff(ctx, {"revs": [base.hex(), stash.commit.hex()], "mode": mode})
    return result


@op("stash", writes=lambda params: (params.get("action") or "push") not in _READERS)
def stash_op(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    action = params.get("action") or "push"
    if action == "push":
        options = PushOptions(
            params.get("message"),
            bool(params.get("untracked")),
            bool(params.get("keep_index")),
            path_args(params.get("paths")),
        )
        return push(ctx, repo, options)
    if action == "list":
        return _list(repo)
    if action == "show":
        return _show(ctx, repo, params)
    if action in ("apply", "pop"):
        return _apply(ctx, repo, params, pop=action == "pop")
    if action == "drop":
        return {"dropped": drop(ctx, repo, find(repo, params.get("stash"), listed_only=True))}
    if action == "clear":
        clear(ctx, repo)
        return {}
    if action == "branch":
        return _branch(ctx, repo, params)
    raise UsageError(f"unknown stash action {action!r}")
