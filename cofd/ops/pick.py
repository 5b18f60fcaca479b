"""``cherry-pick`` and ``revert``: one commit, several, or a range, as git runs them.

One plain revision is a single pick (``sequencer_pick``): it commits, or stops
leaving ``CHERRY_PICK_HEAD``/``REVERT_HEAD`` and ``MERGE_MSG``. Several revisions or
a range (``sequencer_revs``) are a *series*: its state (``sequencer``: the todo
list, the HEAD to go back to) is written before the first pick, the picks run in
order, and the first that stops (conflicts, an empty result) or fails (a refusal: a
merge without ``-m``, local changes in the way) leaves the series there, to be
resumed with:

- ``--continue``: commit the resolved pick (its ``MERGE_MSG``, its author), then pick
  the rest; a pick already concluded by ``cof commit``, or one that failed, is
  dropped (git drops it too: HEAD and the staging area must agree);
- ``--skip``: put back HEAD's files (``reset --merge``) and pick the rest;
- ``--abort``: return to the HEAD before the series, unless HEAD has moved since the
  series' last step (then only the state goes, with git's warning);
- both refuse, as git's ``reset --merge``, when the reset would lose a local change
  or an untracked file (``reset_merge``): nothing changes, the series stays;
- ``--quit``: forget the series and the stopped pick, leaving files and HEAD.

Every result lists the commits made (``picked``) and how it ended: ``stop``
(``reason`` "conflicts" or "empty"), or ``error`` (code and message of the failure
that stopped a series; the commits before it stay).
"""

from __future__ import annotations

from typing import Any

from cofd.ops import sequencer
from cofd.ops.api import OpContext, op
from cofd.ops.branches import end_merge
from cofd.ops.commit import make_commit
from cofd.ops.merge import staged_changes
from cofd.ops.repository import Repository
from cofd.ops.sequencer import Step
from cofd.ops.sequencer_pick import (
    KIND_OF_ACTION,
    PICK,
    REVERT,
    Kind,
    Options,
    described,
    dirty_error,
    in_progress,
    pick_one,
    reset_merge,
    unmerged_error,
)
from cofd.ops.sequencer_revs import select
from cofd.ops.switch import MAX_LISTED
from protocol.errors import CofError, ConflictError, NothingToCommitError, UsageError

__all__ = ["PICK", "REVERT", "cherry_pick", "revert"]

ACTIONS = ("continue", "skip", "abort", "quit")


def _run_series(
    ctx: OpContext, repo: Repository, todo: list[Step], o: Options, picked: list[dict[str, Any]]
) -> dict[str, Any]:
    """Pick ``todo`` in order, saving what is left before each pick (so that a stop,
    a failure or a crash leaves the series at that pick); done, the state goes."""
    while todo:
        sequencer.save_todo(repo, todo)
        kind = KIND_OF_ACTION[todo[0].action]
        try:
            outcome = pick_one(ctx, repo, kind, todo[0].commit, o, single=False)
        except CofError as exc:
            sequencer.record_position(repo, repo.refs.head())
            return {"picked": picked, "error": {"code": exc.code, "message": exc.message}}
        sequencer.record_position(repo, repo.refs.head())
        picked += outcome.get("picked", [])
        if "stop" in outcome:
            return {"picked": picked, "stop": outcome["stop"]}
        todo = todo[1:]
    sequencer.finish(repo)
    return {"picked": picked}


def _start(ctx: OpContext, repo: Repository, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
    revs = params.get("revs")
    if not isinstance(revs, list) or not revs or not all(isinstance(r, str) for r in revs):
        raise UsageError(f"{kind.command} needs a commit")
    o = Options.from_params(params)
    selection = select(repo, revs, oldest_first=kind is PICK)
    if selection.single:
        return {"picked": [], **pick_one(ctx, repo, kind, selection.commits[0], o, single=True)}
    busy = sequencer.command(repo)
    if busy is not None:
        raise ConflictError(
            f"{busy} is already in progress "
            f"(try 'cof {busy} (--continue | --skip | --abort | --quit)')"
        )
    head = repo.refs.head()
    if head is None and kind is REVERT:
        raise UsageError("can't revert as initial commit")
    read = repo.objects.read_commit
    todo = [Step(kind.action, c, read(c).summary) for c in selection.commits]
    sequencer.begin(repo, todo, head, o.to_json())
    return _run_series(ctx, repo, todo, o, [])


def _conclude(ctx: OpContext, repo: Repository) -> dict[str, Any]:
    """Commit the stopped pick the staging area resolves, with its MERGE_MSG; an
    empty result stops again (``cof commit --allow-empty`` records it)."""
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
    stopped = in_progress(repo) or PICK.state_file
    named = repo.refs.read(stopped)  # before the commit removes it
    try:
        made = make_commit(ctx, repo, message, None, allow_empty=False)
    except NothingToCommitError:
        command = PICK.command if stopped == PICK.state_file else REVERT.command
        summary = repo.objects.read_commit(named).summary if named is not None else ""
        hex_id = named.hex() if named is not None else ""
        stop = {"command": command, "commit": hex_id, "summary": summary, "reason": "empty"}
        return {"stop": stop}
    # As git's commit: a picked commit's author date is always shown.
    return {"picked": [described(repo, made, always_date=stopped == PICK.state_file)]}


def _resume(
    ctx: OpContext, repo: Repository, kind: Kind, picked: list[dict[str, Any]]
) -> dict[str, Any]:
    """Go on with the series past the pick it stopped at (concluded or skipped)."""
    head = repo.refs.head()
    state = repo.load_state()
    if state.conflicts or (head is not None and staged_changes(repo, state, head)):
        error = unmerged_error(kind, state) if state.conflicts else dirty_error(kind)
        return {"picked": picked, "error": {"code": error.code, "message": error.message}}
    todo = sequencer.read_todo(repo)[1:]
    o = Options.from_params(sequencer.options(repo))  # as the series began
    return _run_series(ctx, repo, todo, o, picked)


def _continue(ctx: OpContext, repo: Repository, kind: Kind) -> dict[str, Any]:
    series = sequencer.command(repo)
    if series is None:
        if in_progress(repo) is None:
            raise UsageError("no cherry-pick or revert in progress")
        return {"picked": [], **_conclude(ctx, repo)}
    if series != kind.command:
        raise UsageError(f"cannot {kind.command} during a {series}")
    picked: list[dict[str, Any]] = []
    if in_progress(repo) is not None:
        concluded = _conclude(ctx, repo)
        if "stop" in concluded:
            return {"picked": [], **concluded}
        picked = concluded["picked"]
    return _resume(ctx, repo, kind, picked)


def _skip(ctx: OpContext, repo: Repository, kind: Kind) -> dict[str, Any]:
    head = repo.refs.head()
    series = sequencer.command(repo)
    if not (repo.cof_dir / kind.state_file).exists():
        if series != kind.command:
            raise UsageError(f"no {kind.command} in progress")
        if sequencer.head_moved(repo, head):
            raise UsageError(
                "there is nothing to skip (have you committed already? "
                f"try 'cof {kind.command} --continue')"
            )
    if head is not None:
        reset_merge(ctx, repo, head)
    if series is None:
        return {"picked": []}
    return _resume(ctx, repo, kind, [])


def _abort(ctx: OpContext, repo: Repository) -> dict[str, Any]:
    if not sequencer.in_progress(repo):
        if in_progress(repo) is None:
            raise UsageError("no cherry-pick or revert in progress")
        head = repo.refs.head()
        if head is None:
            raise UsageError("cannot abort from a branch yet to be born")
        reset_merge(ctx, repo, head)
        return {"aborted": True}
    original = sequencer.original_head(repo)
    if original is None:  # unborn (or an unreadable file): nothing to go back to
        raise UsageError("cannot abort from a branch yet to be born (--quit forgets the series)")
    warning = None
    if sequencer.head_moved(repo, repo.refs.head()):
        warning = "You seem to have moved HEAD. Not rewinding, check your HEAD!"
    else:
        reset_merge(ctx, repo, original)
    sequencer.finish(repo)
    return {"aborted": True, "warning": warning}


def _quit(repo: Repository) -> dict[str, Any]:
    """Forget the series and a stopped pick; files, staging area and HEAD stay."""
    sequencer.finish(repo)
    end_merge(repo)
    return {"quit": True}


def _run(ctx: OpContext, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    action = params.get("action")
    if action is None:
        return _start(ctx, repo, kind, params)
    if action not in ACTIONS:
        raise UsageError(f"unknown {kind.command} action {action!r}")
    if action == "continue":
        return _continue(ctx, repo, kind)
    if action == "skip":
        return _skip(ctx, repo, kind)
    if action == "abort":
        return _abort(ctx, repo)
    return _quit(repo)


@op("cherry-pick", writes=True)
def cherry_pick(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    return _run(ctx, PICK, params)


@op("revert", writes=True)
def revert(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    return _run(ctx, REVERT, params)
