"""``clone``, ``fetch``, ``pull``, ``push`` and ``remote``: sync with other daemons.

Remotes live in ``.cof/remotes.toml`` (URL and the remote daemon's public key).
Fetched branches land in ``refs/remotes/<remote>/<branch>``; tags are created when
absent, and replaced only by ``fetch --force`` (how each ref moves, push or fetch:
:mod:`cofd.ops.sync_refs`). The network side runs here, in the worker pool, over the
operation's own UDP socket (``cofd.net.driver``), so the daemon's event loop is never
involved."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cofd.objects.model import CommitId, Signature
from cofd.objects.refs import ref_name_problem
from cofd.ops.api import OpContext, op, unless_listing
from cofd.ops.branches import switch_to
from cofd.ops.common import reflog_signature
from cofd.ops.merge import merge, pull_message
from cofd.ops.repository import COF_DIR, Repository, create_layout
from cofd.ops.sync_refs import (
    FAILED,
    MOVED,
    REJECTED,
    UP_TO_DATE,
    Change,
    RefMove,
    fetched_move,
    plan_fetch,
    plan_push,
    push_failure,
    push_ref_name,
    with_verdicts,
)
from cofd.ops.upstreams import set_upstream, upstream_of
from cofd.store.ids import BlockId
from cofd.sync.client import ClientSession, remote_branches
from cofd.sync.registry import (
    Remote,
    Upstream,
    check_name,
    editing_remote_config,
    load_remote_config,
    load_remotes,
    parse_key,
    parse_url,
)
from cofd.sync.serving import block_size_mismatch, check_ref_name, ref_value_problem
from cofd.sync.walk import ref_tips
from protocol.errors import (
    CofError,
    ConfigError,
    ConflictError,
    IntegrityError,
    PathError,
    RepositoryLockedError,
    RevisionError,
    UsageError,
)
from protocol.peer import messages as m

HEADS, TAGS, REMOTES = "refs/heads/", "refs/tags/", "refs/remotes/"
DEFAULT_REMOTE = "origin"


def _remote(repo: Repository, name: str | None) -> Remote:
    """Remote ``name``; by default the current branch's upstream's, else origin (as git)."""
    config = load_remote_config(repo.cof_dir)
    upstream = config.upstreams.get(_current_branch(repo))
    name = name or (upstream.remote if upstream else DEFAULT_REMOTE)
    remotes = config.remotes
    remote = remotes.get(name)
    if remote is None:
        known = ", ".join(sorted(remotes)) or "none"
        raise UsageError(f"no remote named '{name}' (known: {known}; add one with cof remote add)")
    return remote


def _current_branch(repo: Repository) -> str:
    """The branch HEAD is attached to; empty when detached."""
    return (repo.refs.head_target() or "").removeprefix(HEADS)


def _wire(session: ClientSession) -> dict[str, int]:
    stats = session.driver.conn.stats
    return {"sent": stats.get("bytes_sent", 0), "received": stats.get("bytes_received", 0)}


# -- remote -----------------------------------------------------------------------------


@op("remote", writes=unless_listing)
def remote(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    action = params.get("action") or "list"
    if action == "list":
        remotes = load_remotes(repo.cof_dir)
        return {"remotes": [remotes[n].to_dict() for n in sorted(remotes)]}
    name = check_name(str(params.get("name") or ""), "remote")
    if action == "remove":
        with editing_remote_config(repo.cof_dir) as config:
            if config.remotes.pop(name, None) is None:
                raise UsageError(f"no remote named '{name}'")
            # As git's remote rm: the branches that tracked it track nothing now.
            config.upstreams = {b: u for b, u in config.upstreams.items() if u.remote != name}
        for ref, _ in list(repo.refs.iter_refs(f"{REMOTES}{name}/")):
            repo.refs.update(ref, None, reflog_signature(ctx), f"remote: remove {name}")
        return {"removed": name}
    if action == "rename":
        return _rename_remote(ctx, repo, name, str(params.get("new_name") or ""))
    if action == "set-url":
        return _set_url(repo, name, str(params.get("url") or ""), params.get("key"))
    if action != "add":
        raise UsageError(f"unknown remote action {action!r}")
    added = _make_remote(name, str(params.get("url") or ""), params.get("key"))
    with editing_remote_config(repo.cof_dir) as config:
        if name in config.remotes:
            raise UsageError(f"remote '{name}' already exists")
        config.remotes[name] = added
    return {"added": added.to_dict()}


def _rename_remote(ctx: OpContext, repo: Repository, old: str, new: str) -> dict[str, Any]:
    """As ``git remote rename``: the remote, its remote-tracking branches, and every
    upstream that named it."""
    new = check_name(new, "remote")
    old_prefix, new_prefix = f"{REMOTES}{old}/", f"{REMOTES}{new}/"
    who = reflog_signature(ctx)
    moved = []
    with editing_remote_config(repo.cof_dir) as config:
        remote = config.remotes.get(old)
        if remote is None:
            raise UsageError(f"no remote named '{old}'")
        if new in config.remotes:
            raise UsageError(f"remote '{new}' already exists")
        # The refs before the file is written: should moving one fail, the remote
        # keeps its name and the same command moves the rest.
        for ref, commit in list(repo.refs.iter_refs(old_prefix)):
            target = new_prefix + ref.removeprefix(old_prefix)
            message = f"remote: renamed {ref} to {target}"
            repo.refs.update(target, commit, who, message)
            repo.refs.update(ref, None, who, message, expected=commit)
            moved.append(target)
        del config.remotes[old]
        config.remotes[new] = dataclasses.replace(remote, name=new)
        config.upstreams = {
            branch: Upstream(new, up.branch) if up.remote == old else up
            for branch, up in config.upstreams.items()
        }
    return {"renamed": old, "to": new, "refs": moved}


def _set_url(repo: Repository, name: str, url_text: str, key_text: object) -> dict[str, Any]:
    """As ``git remote set-url``; the key stays unless the URL or ``--key`` gives one."""
    with editing_remote_config(repo.cof_dir) as config:
        remote = config.remotes.get(name)
        if remote is None:
            raise UsageError(f"no remote named '{name}'")
        url_key = parse_url(url_text).key
        kept = None if url_key is not None or key_text else remote.key.hex()
        changed = config.remotes[name] = _make_remote(name, url_text, key_text or kept)
    return {"remote": changed.to_dict()}


def _make_remote(name: str, url_text: str, key_text: object) -> Remote:
    url = parse_url(url_text)
    key = parse_key(key_text) if isinstance(key_text, str) and key_text else url.key
    if key is None:
        raise UsageError(
            "the remote daemon's key is needed: run 'cof peer key' there and pass "
            "--key KEY, or use cof://KEY@HOST[:PORT]/NAME"
        )
    if url.key is not None and url.key != key:
        raise UsageError(
            f"the key in the URL ({url.key.hex()[:16]}…) and --key ({key.hex()[:16]}…) "
            "differ: give the key once, or the same key in both"
        )
    # The key lives in Remote.key alone, so remotes compare equal however it was given.
    return Remote(name, dataclasses.replace(url, key=None), key)


# -- fetch ------------------------------------------------------------------------------


def open_session(ctx: OpContext, remote: Remote) -> ClientSession:
    return ClientSession.open(ctx.home, remote, ctx.config().network, ctx.cancelled)


def fetch_remote(
    ctx: OpContext, repo: Repository, remote: Remote, prune: bool = False, force: bool = False
) -> dict[str, Any]:
    """List the remote's refs, pull what is missing, move remote-tracking refs (and
    with ``prune`` delete those of branches the remote no longer has; with ``force``
    replace local tags that differ from the remote's)."""
    with open_session(ctx, remote) as session:
        return fetch_over(ctx, repo, remote, session, session.list_refs(), prune, force)


def _require_block_size(repo: Repository, what: str, advertised: m.Refs) -> None:
    """Refuse a transfer between repositories cut into blocks of different sizes."""
    if advertised.block_size != repo.objects.block_size:
        raise ConfigError(
            f"{what}: " + block_size_mismatch(repo.objects.block_size, advertised.block_size)
        )


def fetch_over(
    ctx: OpContext,
    repo: Repository,
    remote: Remote,
    session: ClientSession,
    advertised: m.Refs,
    prune: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """:func:`fetch_remote` on an open session whose refs were listed."""
    _require_block_size(repo, f"cannot fetch from {remote.url.text()}", advertised)
    refs = remote_branches(advertised)
    taken, rejected = plan_fetch(repo, f"{REMOTES}{remote.name}/", refs, force)
    taken, wrong = _skip_wrong_kinds(repo, taken)  # those stored here already
    # What a refused ref names is not fetched: no ref would keep it.
    local = set(ref_tips(repo.refs))
    wants: list[bytes] = list(dict.fromkeys(new for _, _, new in taken if new not in local))
    stats = session.fetch(repo, wants, ctx.progress)
    wire = _wire(session)
    # All here now: a value naming no commit (a branch at a tree) was brought alone,
    # its object only, and is refused here; the closure of the others was checked.
    taken, wrong_now = _skip_wrong_kinds(repo, taken, arrived=True)
    rejected = sorted(rejected + wrong + wrong_now, key=lambda mv: mv.ref)  # the remote's order
    who = reflog_signature(ctx)
    # Only once the transfer succeeded (a failed fetch changes no ref), and before the
    # updates, in git's order.
    pruned = _prune_tracking(repo, remote, refs, who) if prune else []
    updated = []
    for ref, old, new in _upstream_first(repo, remote, taken):
        _write_fetched(repo, remote, ref, new, who, prune)
        updated.append(fetched_move(repo, ref, old, new).to_dict())
    return {
        "remote": remote.name,
        "url": remote.url.text(),
        "head": advertised.head,
        "updated": updated,
        "rejected": [r.to_dict() for r in rejected],
        "pruned": pruned,
        "stats": stats.to_dict(),
        "wire": wire,
    }


def _skip_wrong_kinds(
    repo: Repository, changes: list[Change], arrived: bool = False
) -> tuple[list[Change], list[RefMove]]:
    """The changes a fetch may write, and the refs it refuses: one naming an object of
    the wrong kind (a branch at a tag object or a tree, as a hostile or broken remote
    may list) is skipped with its reason, the others still move (as git updates the
    refs it can and reports the others). Values not stored yet pass unless the
    transfer has ``arrived``: they are checked again once it brought them."""
    fine: list[Change] = []
    wrong: list[RefMove] = []
    for ref, old, new in changes:
        if arrived and not repo.blocks.has(BlockId(new)):
            why: str | None = "missing (the remote did not send it)"
        else:
            why = ref_value_problem(repo, ref, new, explain=False)
        if why is None:
            fine.append((ref, old, new))
        else:
            wrong.append(RefMove(ref, old, new, REJECTED, why))
    return fine, wrong


def _upstream_first(repo: Repository, remote: Remote, changed: list[Change]) -> list[Change]:
    """git's order: the current branch's upstream first (git puts the ref a pull would
    merge first), then the remote's."""
    upstream = load_remote_config(repo.cof_dir).upstreams.get(_current_branch(repo))
    if upstream is None or upstream.remote != remote.name:
        return changed
    return sorted(changed, key=lambda c: c[0] != upstream.tracking_ref)  # stable


def _write_fetched(
    repo: Repository, remote: Remote, ref: str, new: CommitId, who: Signature, prune: bool
) -> None:
    try:
        repo.refs.update(ref, new, who, f"fetch: from {remote.url.text()}")
    except ConflictError as exc:
        if prune or not ref.startswith(REMOTES):
            raise
        # A branch the remote renamed over another (x/y -> x): as git says.
        raise ConflictError(
            f"{exc.message} (cof fetch --prune removes remote-tracking branches "
            "the remote no longer has)"
        ) from None


def _prune_tracking(
    repo: Repository, remote: Remote, advertised: dict[str, bytes], who: Signature
) -> list[dict[str, Any]]:
    """As ``git fetch --prune``: delete ``refs/remotes/<remote>/<b>`` for every branch
    ``b`` the remote no longer advertises (tags are left alone, as git's default)."""
    prefix = f"{REMOTES}{remote.name}/"
    pruned = []
    for ref, old in list(repo.refs.iter_refs(prefix)):
        if HEADS + ref.removeprefix(prefix) not in advertised:
            repo.refs.update(ref, None, who, "fetch: prune")
            pruned.append({"ref": ref, "old": old.hex()})
    return pruned


# fetch and push are transfers: they write only the block store (whose own write lock
# orders transactions; a fetch checkpoints and lets waiting writers in) and
# remote-tracking refs (lock-file CAS), so they hold no repository lock, only the
# prune lock shared against gc (see cofd.daemon.repos.OpenRepository); transfers take
# turns among themselves through transfer_lock.
@op("fetch", writes=False, transfer=True)
def fetch(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    with repo.transfer_lock:
        remote = _remote(repo, params.get("remote"))
        return fetch_remote(ctx, repo, remote, bool(params.get("prune")), bool(params.get("force")))


@op("merge_upstream", writes=True)
def merge_upstream(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """The second half of ``cof pull`` (the CLI fetches first, as a reader, so the
    repository answers status and log while the transfer runs): merge
    ``<remote>/<branch>``: by default the current branch's upstream, else the
    remote's branch of the current one's name."""
    repo = ctx.require_repo()
    remote = _remote(repo, params.get("remote"))
    current = _current_branch(repo)
    upstream = upstream_of(repo, current) if current else None
    branch = params.get("branch")
    if not branch and upstream is not None and upstream.remote == remote.name:
        branch = upstream.branch
    branch = str(branch or current)
    if not branch:
        raise UsageError("HEAD is detached: name the branch to pull")
    tracking = f"{REMOTES}{remote.name}/{branch}"
    if repo.refs.read(tracking) is None:
        raise RevisionError(f"the remote '{remote.name}' has no branch '{branch}'")
    # git's wording (fmt-merge-msg): the remote's branch and URL (with no key).
    message = pull_message(repo, branch, remote.url.text())
    allow_unrelated = bool(params.get("allow_unrelated"))
    merged: dict[str, Any] = merge(
        ctx, {"rev": tracking, "allow_unrelated": allow_unrelated, "message": message}
    )
    return merged


# -- push -------------------------------------------------------------------------------


@op("push", writes=False, transfer=True)
def push(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    with repo.transfer_lock:
        return _push(ctx, repo, params)


def _push(ctx: OpContext, repo: Repository, params: dict[str, Any]) -> dict[str, Any]:
    remote = _remote(repo, params.get("remote"))
    name = str(params.get("branch") or "")
    if params.get("delete") or name.startswith(":"):  # git's ``push REMOTE :NAME`` too
        both = name.startswith(":") and params.get("delete")
        if both or any(params.get(k) for k in ("force", "set_upstream", "tags")):
            raise UsageError(
                "usage: cof push REMOTE NAME --delete, or cof push REMOTE :NAME "
                "(no -f, -u or --tags)"
            )
        return _push_delete(ctx, repo, remote, name.removeprefix(":"))
    named = _named_ref(repo, remote, params)
    sources = [named] if named is not None else []
    if params.get("tags"):  # every tag; an annotated tag's object travels with it
        sources += [(r, v) for r, v in repo.refs.iter_refs(TAGS) if (r, v) != named]
    force = bool(params.get("force"))
    with open_session(ctx, remote) as session:
        moves, result = _offer(repo, remote, session, sources, force)
        wire = _wire(session)
    moves = with_verdicts(moves, result)
    _track_pushed(repo, remote, moves, reflog_signature(ctx))
    mine = next((mv for mv in moves if named is not None and mv.ref == named[0]), None)
    upstream = _upstream_once_pushed(repo, remote, mine, bool(params.get("set_upstream")))
    return {
        "upstream_set": upstream.to_dict() if upstream else None,
        "remote": remote.name,
        "url": remote.url.text(),
        "branch": mine.ref.removeprefix(HEADS).removeprefix(TAGS) if mine else None,
        "old": mine.old.hex() if mine and mine.old else None,
        "new": mine.new.hex() if mine else None,
        "refs": [mv.to_dict() for mv in moves],
        "up_to_date": all(mv.status == UP_TO_DATE for mv in moves),
        "results": [{"ref": n, "ok": ok, "message": msg} for n, ok, msg in result.results],
        "wire": wire,
        # The refused refs are reported beside the others (git's lines, ``-q`` too),
        # then the CLI exits 7 with this.
        "error": push_failure(remote.url.text(), moves),
    }


def _upstream_once_pushed(
    repo: Repository, remote: Remote, pushed: RefMove | None, wanted: bool
) -> Upstream | None:
    """push -u: the branch pushed tracks the remote's once the remote has it (at once
    when there was nothing to push, as git does); a tag tracks nothing, as in git."""
    if not wanted or pushed is None or not pushed.ref.startswith(HEADS) or not pushed.landed:
        return None
    branch = pushed.ref.removeprefix(HEADS)
    upstream = Upstream(remote.name, branch)
    set_upstream(repo, branch, upstream)
    return upstream


def _offer(
    repo: Repository,
    remote: Remote,
    session: ClientSession,
    sources: list[tuple[str, CommitId]],
    force: bool,
) -> tuple[list[RefMove], m.PushResult]:
    """Plan each ref against what the remote has now, then offer those that may go.

    As git: what the remote has is its answer, never the remote-tracking branch
    (which may be stale: the branch deleted or moved there since).
    """
    advertised = session.list_refs()
    _require_block_size(repo, f"cannot push to {remote.url.text()}", advertised)
    theirs = remote_branches(advertised)
    moves = []
    for ref, value in sources:
        old = theirs.get(ref)
        moves.append(plan_push(repo, ref, value, CommitId(old) if old else None, force))
    # Nothing sent, as git, when nothing could go: the refusals are the answer.
    if any(mv.status in FAILED for mv in moves) and not any(mv.status in MOVED for mv in moves):
        return moves, m.PushResult(())
    # Nothing to send still offers nothing: a peer without a write grant is refused
    # (as git's receive-pack), not told "Everything up-to-date".
    updates = [mv.update() for mv in moves if mv.status in MOVED]
    return moves, session.push(repo, updates, force)


def _named_ref(
    repo: Repository, remote: Remote, params: dict[str, Any]
) -> tuple[str, CommitId] | None:
    """The local ref a push names, with its value: the current branch by default
    (git's ``push.default = simple``), none for ``--tags`` alone."""
    name = str(params.get("branch") or "")
    if name:
        ref = push_ref_name(repo, name)
    elif params.get("tags"):
        return None
    else:
        branch = _current_branch(repo)
        if not branch:
            raise UsageError("name a valid branch to push (HEAD is detached)")
        _check_simple(repo, remote, branch)
        ref = HEADS + branch
    value = repo.refs.read(ref)
    if value is None:
        raise RevisionError(f"no local branch or tag '{name or ref.removeprefix(HEADS)}' to push")
    return ref, value


def _track_pushed(repo: Repository, remote: Remote, moves: list[RefMove], who: Signature) -> None:
    """The remote-tracking branch of each branch the remote now has at the pushed value
    (made even when it had it already)."""
    for mv in moves:
        if mv.ref.startswith(HEADS) and mv.landed:
            tracking = f"{REMOTES}{remote.name}/{mv.ref.removeprefix(HEADS)}"
            if repo.refs.read(tracking) != mv.new:
                repo.refs.update(tracking, mv.new, who, f"push: to {remote.url.text()}")


def _check_simple(repo: Repository, remote: Remote, branch: str) -> None:
    """git's ``push.default = simple`` for a push naming no branch: to the upstream's
    remote, only a branch whose upstream has its own name is pushed (otherwise a new
    remote branch would appear and the branch would stay "ahead" of its upstream)."""
    upstream = upstream_of(repo, branch)
    if upstream is None or upstream.remote != remote.name or upstream.branch == branch:
        return
    raise UsageError(
        f"the upstream branch of '{branch}' ({upstream.text()}) does not match its name: "
        f"to push it to {remote.name}'s branch of the same name, use cof push "
        f"{remote.name} {branch} (with -u it then tracks that); to push to "
        f"{upstream.text()}, push a local branch '{upstream.branch}', or change the "
        "upstream with cof branch -u"
    )


def _push_delete(ctx: OpContext, repo: Repository, remote: Remote, name: str) -> dict[str, Any]:
    """``push --delete NAME``: delete the remote's branch or tag by compare-and-swap
    against the value it lists now (so a push that lands in between wins), then the
    local remote-tracking branch of a branch (upstreams naming it are then "gone", as
    in git; a local tag stays, as git's)."""
    full = name.startswith((HEADS, TAGS))
    if not name or (check_ref_name(name) if full else ref_name_problem(name)) is not None:
        raise UsageError("name the remote branch or tag to delete")
    with open_session(ctx, remote) as session:
        theirs = remote_branches(session.list_refs())
        ref = _remote_ref_to_delete(remote, name, theirs)
        current = CommitId(theirs[ref])
        result = session.push(repo, [m.RefUpdate(ref, current, None)], False)
        wire = _wire(session)
    _raise_rejections(remote, result)
    short = ref.removeprefix(HEADS).removeprefix(TAGS)
    tracking = f"{REMOTES}{remote.name}/{short}"
    if ref.startswith(HEADS) and repo.refs.read(tracking) is not None:
        repo.refs.update(tracking, None, reflog_signature(ctx), f"push: deleted {short}")
    return {
        "remote": remote.name,
        "url": remote.url.text(),
        "branch": short,
        "ref": ref,
        "deleted": True,
        "old": current.hex(),
        "new": None,
        "results": [{"ref": ref, "ok": True, "message": "deleted"}],
        "wire": wire,
    }


def _remote_ref_to_delete(remote: Remote, name: str, theirs: dict[str, bytes]) -> str:
    """The remote's ref ``push --delete NAME`` names: a full ``refs/heads/*`` or
    ``refs/tags/*`` name, else the remote's branch or tag of that name (refused when it
    has both, as git's "dst refspec matches more than one")."""
    full = name.startswith((HEADS, TAGS))
    found = [name] if full else [r for r in (HEADS + name, TAGS + name) if r in theirs]
    if len(found) > 1:
        raise UsageError(
            f"the remote '{remote.name}' has both a branch and a tag '{name}': delete "
            f"refs/heads/{name} or refs/tags/{name}"
        )
    if not found or found[0] not in theirs:
        what = "tag" if name.startswith(TAGS) else "branch"
        short = name.removeprefix(HEADS).removeprefix(TAGS)
        tail = "" if full else " (nor a tag of that name)"
        raise RevisionError(f"the remote '{remote.name}' has no {what} '{short}'{tail}")
    return found[0]


def _raise_rejections(remote: Remote, result: m.PushResult) -> None:
    refused = [(name, msg) for name, ok, msg in result.results if not ok]
    if refused:
        reasons = "; ".join(
            f"{name.removeprefix(HEADS).removeprefix(TAGS)}: {msg}" for name, msg in refused
        )
        raise ConflictError(f"push to {remote.url.text()} rejected: {reasons}")


# -- clone ------------------------------------------------------------------------------


_CLONE_SLOTS: dict[Path, threading.Lock] = {}  # by target; one small Lock per target
_CLONE_SLOTS_GUARD = threading.Lock()


@contextlib.contextmanager
def _clone_slot(target: Path) -> Iterator[None]:
    with _CLONE_SLOTS_GUARD:
        slot = _CLONE_SLOTS.setdefault(target, threading.Lock())
    with slot:
        yield


def _clone_path(ctx: OpContext, directory: str | None, remote: Remote) -> Path:
    return (ctx.cwd / (directory or remote.url.name)).resolve()


def _clone_target(target: Path, remote: Remote) -> bool:
    """Whether ``target`` is an interrupted clone to resume (else it must be new)."""
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return False
    cof_dir = target / ".cof"
    if (cof_dir / "config.toml").is_file():
        remotes = load_remotes(cof_dir)
        origin = remotes.get(DEFAULT_REMOTE)
        same = origin is not None and origin.url == remote.url and origin.key == remote.key
        heads = any(True for _ in _iter_heads(cof_dir))
        if same and not heads and not _detached(cof_dir):  # clone -b TAG made no branch
            return True
    raise PathError(f"destination path '{target}' already exists and is not an empty directory")


def _detached(cof_dir: Path) -> bool:
    try:
        return not (cof_dir / "HEAD").read_text(encoding="utf-8").startswith("ref: ")
    except OSError:
        return False


def _iter_heads(cof_dir: Path) -> Any:
    heads = cof_dir / "refs" / "heads"
    return (p for p in heads.rglob("*") if p.is_file()) if heads.is_dir() else iter(())


@op("clone", writes=True, needs_repo=False)
def clone(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    # The URL as typed, key included: a --key that contradicts it is refused.
    remote = _make_remote(DEFAULT_REMOTE, str(params.get("url") or ""), params.get("key"))
    # One clone per target at a time: a re-run right after a Ctrl-C waits for the
    # cancelled clone to let go of the directory, then resumes it.
    target = _clone_path(ctx, params.get("directory"), remote)
    branch = params.get("branch")
    if branch is not None and (not isinstance(branch, str) or ref_name_problem(branch)):
        raise UsageError(f"'{branch}' is not a valid branch name")
    with _clone_slot(target):
        return _clone_into(ctx, remote, target, branch)


def _clone_into(ctx: OpContext, remote: Remote, target: Path, branch: str | None) -> dict[str, Any]:
    """Clone into ``target`` and check out ``branch`` (default: the one the remote's
    HEAD names; a tag of that name, detached, when the remote has no such branch)."""
    resume = _clone_target(target, remote)
    created = not target.exists()
    with open_session(ctx, remote) as session:
        advertised = session.list_refs()
        head = _clone_head(remote, advertised, branch)
        repo = _create_clone(ctx, target, advertised.block_size)
        try:
            with editing_remote_config(repo.cof_dir) as config:
                config.remotes[DEFAULT_REMOTE] = remote
            fetched = fetch_over(ctx, repo, remote, session, advertised)
        except CofError as exc:
            kept = not repo.blocks.index.is_empty()
            repo.close()
            raise _failed_clone(exc, target, created, kept) from None
        except BaseException:
            repo.close()
            raise
    refused = _refused_checkout(repo, remote, head, branch, fetched)
    if refused is not None:
        kept = not repo.blocks.index.is_empty()
        repo.close()
        again = "clone into it with -b naming another branch, or none,"
        raise _failed_clone(refused, target, created, kept, again)
    # The session is closed: the checkout holds no connection (nor a serving slot).
    try:
        started = time.monotonic()
        checkout = _checkout_head(ctx, repo, remote, head)
        checkout_seconds = time.monotonic() - started
    finally:
        repo.close()
    return {
        "root": str(target),
        "resumed": resume,
        "fetch": fetched,
        "checkout": checkout,
        "checkout_seconds": round(checkout_seconds, 4),
    }


def _clone_head(remote: Remote, advertised: m.Refs, branch: str | None) -> str:
    """The ref a clone checks out: the remote's HEAD, else ``-b NAME``'s branch, else
    its tag (checked out detached, as git's ``clone -b TAG``)."""
    if branch is None:
        return advertised.head
    listed = remote_branches(advertised)
    for ref in (HEADS + branch, TAGS + branch):  # git's order: a branch first
        if ref in listed:
            return ref
    # As git clone -b: refused before anything is made or transferred.
    raise RevisionError(f"remote branch '{branch}' not found in {remote.url.text()}")


def _refused_checkout(
    repo: Repository, remote: Remote, head: str, branch: str | None, fetched: dict[str, Any]
) -> IntegrityError | None:
    """Why ``clone -b NAME`` fails, as git's, when its fetch refused the ref NAME names
    (a branch or tag at a tree, written there by hand): nothing to check out."""
    if branch is None:
        return None
    local = f"{REMOTES}{remote.name}/{branch}" if head.startswith(HEADS) else head
    row = next((r for r in fetched["rejected"] if r["ref"] == local), None)
    if row is None or repo.refs.read(local) is not None:  # a kept tag is checked out
        return None
    what = "branch" if head.startswith(HEADS) else "tag"
    return IntegrityError(
        f"cannot check out remote {what} '{branch}': {head} ({row['new'][:12]}) of "
        f"{remote.url.text()} is {row['reason']}"
    )


def _create_clone(ctx: OpContext, target: Path, block_size: int) -> Repository:
    """The clone's repository (made unless resumed), with the origin's block size (its
    files' manifests depend on it), opened with this daemon's settings."""
    config = ctx.config()
    config = dataclasses.replace(
        config, core=dataclasses.replace(config.core, block_size=block_size)
    )
    try:
        target.mkdir(parents=True, exist_ok=True)
        create_layout(target, config)
    except OSError as exc:
        raise PathError(f"cannot create '{target}': {exc.strerror}") from exc
    try:
        return Repository.open(target, ctx.home / "config.toml", ctx.env)
    except RepositoryLockedError:
        if ctx.release_repository is None:
            raise
        # A partial clone that a command (status, log) opened since: this daemon's own
        # cache holds its lock. Close that copy and resume; another daemon's lock or a
        # clone still running (one per target) is refused as before.
        ctx.release_repository(target)
        return Repository.open(target, ctx.home / "config.toml", ctx.env)


def _failed_clone(
    exc: CofError,
    target: Path,
    created: bool,
    kept: bool,
    again: str = "run the same clone again",
) -> CofError:
    """What a failed clone leaves: a partial clone to resume if anything arrived (said
    in the error, with ``again``: how), else nothing (as git removes a failed clone's
    directory)."""
    if kept:
        where = f"what arrived is kept in '{target}': {again} to resume"
        return type(exc)(f"{exc.message} ({where})")
    shutil.rmtree(target if created else target / COF_DIR, ignore_errors=True)
    return exc


def _checkout_head(
    ctx: OpContext, repo: Repository, remote: Remote, head: str
) -> dict[str, Any] | None:
    if head.startswith(TAGS):
        return _checkout_tag(ctx, repo, remote, head)
    tracking = dict(repo.refs.iter_refs(f"{REMOTES}{remote.name}/"))
    branch = head.removeprefix(HEADS) if head.startswith(HEADS) else ""
    if f"{REMOTES}{remote.name}/{branch}" not in tracking:
        branch = "main" if f"{REMOTES}{remote.name}/main" in tracking else ""
    if not branch:
        if not tracking:
            _wait_on_unborn(ctx, repo, remote, head)
        return None
    commit = tracking[f"{REMOTES}{remote.name}/{branch}"]
    message = f"clone: from {remote.url.text()}"
    # Check out first (HEAD is unborn, so every file is written), then create the
    # branch and attach HEAD to it.
    result = switch_to(ctx, repo, commit, HEADS + branch, False, message, move_head=False)
    repo.refs.update(HEADS + branch, commit, reflog_signature(ctx), message, expected=None)
    repo.refs.set_head(HEADS + branch, reflog_signature(ctx), message)
    set_upstream(repo, branch, Upstream(remote.name, branch))  # as git clone
    return result


def _checkout_tag(
    ctx: OpContext, repo: Repository, remote: Remote, tag: str
) -> dict[str, Any] | None:
    """``clone -b TAG``, as git's: HEAD detached at the tag's commit, no branch made
    and no upstream (HEAD's only reflog entry is the clone's, so status says "Not
    currently on any branch.", as git's)."""
    value = repo.refs.read(tag)
    if value is None:  # refused by the fetch (it names no commit): nothing to check out
        return None
    commit = repo.objects.peel(value)
    result = switch_to(ctx, repo, commit, None, False, f"clone: from {remote.url.text()}")
    return {**result, "detached": True, "tag": tag.removeprefix(TAGS)}


def _wait_on_unborn(ctx: OpContext, repo: Repository, remote: Remote, head: str) -> None:
    """The clone of an empty repository: HEAD names the branch the remote's HEAD names
    (unborn here too) and that branch tracks origin's, as git's clone sets
    ``branch.<name>.remote`` and ``.merge``: the first push then makes origin/<name>
    and status compares with it, a pull merges it."""
    if not head.startswith(HEADS) or check_ref_name(head) is not None:
        head = repo.refs.head_target() or ""
    if not head.startswith(HEADS):
        return
    if repo.refs.head_target() != head:
        message = f"clone: from {remote.url.text()}"
        repo.refs.set_head(head, reflog_signature(ctx), message)
    branch = head.removeprefix(HEADS)
    set_upstream(repo, branch, Upstream(remote.name, branch))
