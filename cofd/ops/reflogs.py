"""Reflog expiry and deletion: ``cof reflog expire``, ``cof reflog delete``, and gc's.

Reflogs are gc roots, so without expiry every commit a ref ever named — a deleted
branch's, an amended one — keeps its blocks forever, and for binary files that is
most of the store. As git's ``reflog expire`` (run by every ``git gc``): an entry goes
once it is older than ``gc.reflog_expire_days`` (90), or older than
``gc.reflog_expire_unreachable_days`` (30) when a commit it names (old or new side: gc
keeps both) is not reachable from the ref's current value. The reflog of a ref that
no longer exists (a deleted branch, a pruned remote-tracking branch, the ``deleted/``
logs of names that were reused) has no current value: all of it is unreachable. A
reflog left empty is removed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cofd.config import Config
from cofd.objects.ancestry import ReachableFrom
from cofd.objects.model import CommitId
from cofd.objects.refs import HEAD, ReflogEntry
from cofd.ops.api import OpContext, op
from cofd.ops.repository import Repository
from cofd.ops.revisions import full_ref
from protocol.errors import CofError, RevisionError, UsageError

SECONDS_PER_DAY = 86400.0
_SELECTOR = re.compile(r"^(?P<ref>.*)@\{(?P<n>\d+)\}$")
_AGO = re.compile(r"^(?P<n>\d+(?:\.\d+)?)[. ]?(?P<unit>days?|weeks?)?(?:[. ]ago)?$")


@dataclass(frozen=True, slots=True)
class ExpiryPolicy:
    """Entries older than ``expire`` go; older than ``expire_unreachable`` too when a
    commit they name is not reachable from the ref. Unix times; None: never."""

    expire: float | None
    expire_unreachable: float | None

    @classmethod
    def from_config(cls, config: Config, now: float) -> ExpiryPolicy:
        return cls(
            now - config.gc.reflog_expire_days * SECONDS_PER_DAY,
            now - config.gc.reflog_expire_unreachable_days * SECONDS_PER_DAY,
        )


@dataclass(slots=True)
class ExpiryResult:
    expired: dict[str, int] = field(default_factory=dict)  # reflog -> entries dropped

    @property
    def total(self) -> int:
        return sum(self.expired.values())


def parse_when(text: str, now: float) -> float | None:
    """git's ``--expire`` values: ``now``/``all``, ``never``/``false``, ``N`` or
    ``N.days.ago`` / ``N weeks ago``, or a date ``YYYY-MM-DD``. None: never."""
    value = text.strip().lower()
    if value in ("now", "all"):
        return now + 1  # newer than anything written so far
    if value in ("never", "false"):
        return None
    if match := _AGO.match(value):
        days = float(match["n"]) * (7 if (match["unit"] or "").startswith("week") else 1)
        return now - days * SECONDS_PER_DAY
    try:
        return time.mktime(time.strptime(value, "%Y-%m-%d"))
    except ValueError:
        raise UsageError(
            f"cannot read expiry time {text!r}: use now, never, N.days.ago or YYYY-MM-DD"
        ) from None


def _reachable_from(repo: Repository, tip: CommitId | None) -> Callable[[CommitId], bool]:
    """Whether a commit is reachable from ``tip`` (None reaches nothing); a commit
    gc already took, or never had, is not."""
    if tip is None:
        return lambda _: False
    walk = ReachableFrom(repo.objects.read_commit, tip)

    def reachable(commit: CommitId) -> bool:
        try:
            return walk(commit)
        except CofError:
            return False

    return reachable


def _keeper(
    policy: ExpiryPolicy, reachable: Callable[[CommitId], bool]
) -> Callable[[int, ReflogEntry], bool]:
    def keep(_: int, entry: ReflogEntry) -> bool:
        if policy.expire is not None and entry.timestamp < policy.expire:
            return False
        if policy.expire_unreachable is not None and entry.timestamp < policy.expire_unreachable:
            # Both sides, as git: gc keeps what either side names.
            return all(c is None or reachable(c) for c in (entry.old, entry.new))
        return True

    return keep


def expire_reflogs(
    repo: Repository, policy: ExpiryPolicy, names: list[str] | None, dry_run: bool = False
) -> ExpiryResult:
    """Apply ``policy`` to the reflogs ``names`` (None: all of them). The caller holds
    the repository's writer lock; a fetch moving a remote-tracking ref meanwhile is
    kept out of each reflog's rewrite by the ref's own lock."""
    result = ExpiryResult()
    for name in repo.refs.reflog_names() if names is None else names:
        tip = repo.refs.head() if name == HEAD else repo.refs.read(name)
        keep = _keeper(policy, _reachable_from(repo, tip))
        if dry_run:
            dropped = sum(not keep(n, e) for n, e in enumerate(repo.refs.reflog(name)))
        else:
            dropped = repo.refs.rewrite_reflog(name, keep)
        if dropped:
            result.expired[name] = dropped
    return result


def reflog_name(repo: Repository, name: str) -> str:
    """A ref as the user names it (``HEAD``, ``main``, ``origin/main``, a deleted
    branch) to its reflog; RevisionError when it has none."""
    if name == HEAD:
        ref = HEAD
    else:
        ref = full_ref(repo, name) or (name if name.startswith("refs/") else f"refs/heads/{name}")
    if not (repo.cof_dir / "logs" / ref).is_file():
        raise RevisionError(f"no reflog for '{name}'")
    return ref


@op("reflog_expire", writes=True)
def reflog_expire(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    now = time.time()
    defaults = ExpiryPolicy.from_config(ctx.config(), now)
    expire = params.get("expire")
    unreachable = params.get("expire_unreachable")
    policy = ExpiryPolicy(
        defaults.expire if expire is None else parse_when(str(expire), now),
        defaults.expire_unreachable if unreachable is None else parse_when(str(unreachable), now),
    )
    refs = [str(r) for r in params.get("refs") or []]
    if params.get("all"):
        names = None
    elif refs:
        names = [reflog_name(repo, r) for r in refs]
    else:
        raise UsageError("name the reflogs to expire, or pass --all")
    dry_run = bool(params.get("dry_run"))
    result = expire_reflogs(repo, policy, names, dry_run=dry_run)
    return {"expired": result.expired, "total": result.total, "dry_run": dry_run}


@op("reflog_delete", writes=True)
def reflog_delete(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """``cof reflog delete REF@{N}...``: drop those entries (numbers as listed now)."""
    repo = ctx.require_repo()
    wanted: dict[str, set[int]] = {}
    for selector in [str(s) for s in params.get("entries") or []]:
        match = _SELECTOR.match(selector)
        if match is None:
            raise UsageError(f"'{selector}' is not a reflog entry (REF@{{N}})")
        name = reflog_name(repo, match["ref"] or HEAD)
        numbers = wanted.setdefault(name, set())
        numbers.add(int(match["n"]))
    if not wanted:
        raise UsageError("name the entries to delete: REF@{N}")
    deleted: dict[str, int] = {}
    for name, numbers in wanted.items():
        count = len(repo.refs.reflog(name))
        missing = sorted(n for n in numbers if n >= count)
        if missing:
            raise RevisionError(
                f"reflog of '{name}' has only {count} entries, no @{{{missing[0]}}}"
            )
    for name, numbers in wanted.items():

        def keep(n: int, _: ReflogEntry, doomed: set[int] = numbers) -> bool:
            return n not in doomed

        deleted[name] = repo.refs.rewrite_reflog(name, keep)
    return {"deleted": deleted}
