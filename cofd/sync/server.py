"""The serving side of sync, inside the daemon: reacts to the listener's events.

Runs on the event loop and never blocks it: share lookups, ref listings, negotiation
walks and block reads run in the daemon's worker pool; a push being received runs in
a worker as blocking code (``receive_push_data``, beside local readers, then
``apply_push`` under the write lock) that talks to its connection through a
:class:`LoopChannel`. Access: every request names a shared repository, and the peer's
authenticated key must hold a grant on it (``read`` to list and fetch, ``write`` to
push); a Want may only name the values of the refs shown to the peer, now or in its
last listing on this connection (git's "not our ref"); block requests are served only
from the repository of its last request, and only for ids listed to it there
(``LackingPages.offered``). Unknown share and missing grant get the same answer. A
session serving a fetch holds the repository's prune lock shared from its first Want
until it ends or falls idle (:class:`PruneHold`), so gc cannot delete a block between
the Lacking page that listed it and the peer's request for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cofd.config import DEFAULT_MAX_FETCHES
from cofd.daemon.repos import OpenRepository, RepositoryCache
from cofd.net.endpoint import ListenerEndpoint
from cofd.objects.ancestry import is_ancestor
from cofd.objects.model import CommitId
from cofd.ops.common import tree_of
from cofd.ops.repository import Repository
from cofd.ops.switch import apply, check, plan
from cofd.store.ids import BlockId
from cofd.sync.registry import READ, WRITE, Share, load_shares
from cofd.sync.serving import (
    LACKING_PAGE,
    LackingPages,
    block_size_mismatch,
    check_ref_name,
    read_blocks,
    ref_value_problem,
    refs_message,
    send_blocks,
    split_offered,
)
from cofd.sync.transfer import TransferStats, pull
from protocol.errors import AccessDeniedError, CofError, ConfigError, ConflictError, PeerError
from protocol.peer import events as ev
from protocol.peer import limits
from protocol.peer import messages as m
from protocol.peer.connection import Connection, State
from protocol.peer.listener import Listener

log = logging.getLogger("cofd.sync")

SERVE_CHUNK = 256  # blocks read from the store per worker call
CHANNEL_SLACK = 30.0  # seconds a push worker waits beyond the connection's own budget
# A fetch session that asks for nothing this long lets gc in (as long as a connection
# may stay silent); one that keeps its connection up with pings alone must not keep
# gc out for good.
PRUNE_HOLD_IDLE = limits.IDLE_TIMEOUT
RunBlocking = Callable[..., Awaitable[Any]]


class LoopChannel:
    """A loop-owned connection as seen from a worker thread (a push being received)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, endpoint: ListenerEndpoint, conn: Connection
    ):
        self.peer_name = conn.peer_name
        self._loop, self._endpoint, self._conn = loop, endpoint, conn
        self._timeout = conn.config.budget + CHANNEL_SLACK
        self._last_event = time.monotonic()
        self.events: queue.Queue[ev.Event] = queue.Queue()

    def call(self, fn: Callable[[Connection], Any]) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(self._conn))
            except BaseException as exc:
                future.set_exception(exc)
            self._endpoint.kick()

        self._loop.call_soon_threadsafe(run)
        return future.result()

    def next_event(self, timeout: float | None = None) -> ev.Event | None:
        """The next event; None after ``timeout`` seconds without one. PeerError once
        none has come for the connection's whole budget (it should have closed)."""
        silent_for = time.monotonic() - self._last_event
        wait = max(self._timeout - silent_for, 0.0)
        if timeout is not None:
            wait = min(wait, timeout)
        try:
            event = self.events.get(timeout=wait)
        except queue.Empty:
            if time.monotonic() - self._last_event < self._timeout:
                return None
            raise PeerError(f"peer {self.peer_name} stopped responding") from None
        self._last_event = time.monotonic()
        return event


class PruneHold:
    """A repository's prune lock, held shared for one session serving a fetch.

    A Lacking page promises blocks that the peer asks for later, at its own pace; gc
    must not delete them meanwhile (it would, were a listed branch deleted). So the
    session holds the lock from its first Want until it ends (:meth:`end`, on
    ``ConnectionTerminated``, which idle connections also get) or has asked for
    nothing for ``PRUNE_HOLD_IDLE``; a later request takes a new hold. Shared, so
    other sessions and transfers go on; a gc waiting for it keeps new holders out
    (the lock prefers writers), so it waits for the sessions under way, not for
    later ones.
    """

    def __init__(self, entry: OpenRepository) -> None:
        self.entry = entry
        self.ended = False  # let go of (or never to be held): later requests need a new one
        self._users = 0
        self._last_use = time.monotonic()
        self._held: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._end = False
        self._wake = asyncio.Event()  # ended, or a request done with it

    async def run(self) -> None:
        """The task holding the lock: the hold outlives every single request."""
        try:
            async with self.entry.transferring():
                if self._end:
                    return
                self._held.set_result(True)
                while True:
                    idle = time.monotonic() - self._last_use
                    if not self._users and (self._end or idle >= PRUNE_HOLD_IDLE):
                        break
                    self._wake.clear()
                    wait = None if self._users else PRUNE_HOLD_IDLE - idle
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                self.ended = True  # before letting go, so no request counts on it
        finally:
            self.ended = True
            if not self._held.done():
                self._held.set_result(False)

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[bool]:
        """Wait until the lock is held (False: the session ended first); the hold
        lasts at least until the body is done."""
        self._users += 1
        try:
            # Shielded: a cancelled request must not cancel the future for the others.
            yield await asyncio.shield(self._held)
        finally:
            self._users -= 1
            self._last_use = time.monotonic()
            self._wake.set()

    def end(self) -> None:
        """Let go once the requests using it are done."""
        self._end = True
        self._wake.set()


@dataclass(slots=True)
class _Peer:
    conn: Connection
    lacking: LackingPages  # pages of [peer] listing_page_blocks ids
    readable: OpenRepository | None = None  # the repository blocks are served from
    # The ref values last listed to this peer, per repository: a Want may name them
    # (git serves what it advertised in the session) besides the current values.
    advertised: dict[Path, frozenset[bytes]] = field(default_factory=dict)
    pending: deque[tuple[int, m.BlockId]] = field(default_factory=deque)
    serving: bool = False
    channel: LoopChannel | None = None
    hold: PruneHold | None = None  # while serving a fetch


class SyncService:
    """Answers peers for the shares under ``home``; owns the UDP endpoint."""

    def __init__(
        self,
        home: Path,
        repos: RepositoryCache,
        run_blocking: RunBlocking,
        max_fetches: int = DEFAULT_MAX_FETCHES,
        page_blocks: int = LACKING_PAGE,
    ) -> None:
        self.home = home
        self.repos = repos
        self.run_blocking = run_blocking
        self.max_fetches = max_fetches  # sessions that may list at once ([peer])
        self.page_blocks = page_blocks  # ids per Lacking page ([peer] listing_page_blocks)
        self.endpoint: ListenerEndpoint | None = None
        self._peers: dict[Connection, _Peer] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, listener: Listener, sock: Any) -> None:
        self.endpoint = await ListenerEndpoint.start(listener, self._on_event, sock)

    async def stop(self) -> None:
        for peer in self._peers.values():
            if peer.hold is not None:
                peer.hold.end()
            if peer.conn.state is not State.CLOSED:
                peer.conn.close()
            if peer.channel is not None:
                peer.channel.events.put(ev.ConnectionTerminated(None, by_peer=False))
        if self.endpoint is not None:
            self.endpoint.flush()
            self.endpoint.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    # -- events -------------------------------------------------------------------------

    def _on_event(self, conn: Connection, event: ev.Event) -> None:
        peer = self._peers.get(conn)
        if peer is None:
            peer = self._peers[conn] = _Peer(conn, lacking=LackingPages(self.page_blocks))
        if isinstance(event, ev.RequestReceived):
            self._spawn(self._request(peer, event))
        elif isinstance(event, ev.BlocksRequested):
            peer.pending.extend(event.blocks)
            if not peer.serving:
                peer.serving = True
                self._spawn(self._serve_blocks(peer))
        elif isinstance(event, ev.ConnectionTerminated):
            if peer.channel is not None:
                peer.channel.events.put(event)
            if peer.hold is not None:
                peer.hold.end()
            self._peers.pop(conn, None)
            stats = conn.stats
            log.info(
                "peer %s session ended: %d datagrams sent (%d lost), %d received",
                conn.peer_key.hex()[:16],
                stats["datagrams_sent"],
                stats["packets_lost"],
                stats["datagrams_received"],
            )
        elif peer.channel is not None and not isinstance(event, ev.HandshakeCompleted):
            peer.channel.events.put(event)  # responses and blocks of a push we receive

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _kick(self) -> None:
        if self.endpoint is not None:
            self.endpoint.kick()

    def _holding(
        self, peer: _Peer, entry: OpenRepository
    ) -> contextlib.AbstractAsyncContextManager[bool]:
        """``peer``'s hold on ``entry``'s prune lock, taken anew if it has none."""
        hold = peer.hold
        if hold is None or hold.ended or hold.entry is not entry:
            if hold is not None:
                hold.end()
            hold = peer.hold = PruneHold(entry)
            self._spawn(hold.run())
        return hold.use()

    # -- requests ------------------------------------------------------------------------

    async def _share(self, peer: _Peer, name: str, right: str) -> tuple[Share, OpenRepository]:
        shares = await self.run_blocking(load_shares, self.home)
        share = shares.get(name)
        if share is None or not share.allows(peer.conn.peer_key, right):
            log.info("peer %s denied %s on %r", peer.conn.peer_key.hex()[:16], right, name)
            raise AccessDeniedError(
                f"no {right} access to '{name}' for key {peer.conn.peer_key.hex()[:16]}… "
                "(or nothing is shared under that name)"
            )
        entry = await self.repos.get(share.path)
        if peer.readable is not None and peer.readable is not entry:
            # Another repository: what was listed from the last one is not served
            # from this one (the same id there would tell the peer this one has it).
            peer.lacking = LackingPages(self.page_blocks)
        peer.readable = entry
        return share, entry

    async def _request(self, peer: _Peer, event: ev.RequestReceived) -> None:
        message = event.message
        try:
            reply = await self._answer(peer, message)
        except CofError as exc:
            reply = m.ErrorReply(exc.code, exc.message)
        except Exception as exc:
            log.exception("serving a peer request failed")
            reply = m.ErrorReply("internal", f"internal error: {type(exc).__name__}")
        if peer.conn.state is not State.CLOSED:
            peer.conn.send_response(event.request_id, reply)
            self._kick()

    async def _answer(self, peer: _Peer, message: m.Message) -> m.Message:
        if isinstance(message, m.ListRefs):
            share, entry = await self._share(peer, message.repo, READ)
            async with entry.lock.acquire(False):
                refs: m.Refs = await self.run_blocking(refs_message, entry.repo)
            peer.advertised[share.path] = frozenset(value for _, value in refs.refs)
            return refs
        if isinstance(message, m.Want):
            share, entry = await self._share(peer, message.repo, READ)
            if not peer.lacking.started:
                self._admit_fetch(peer)
            advertised = peer.advertised.get(share.path, frozenset())
            # The prune lock before the repository lock, as gc takes them.
            async with self._holding(peer, entry) as held, entry.lock.acquire(False):
                if not held:
                    raise PeerError("the session ended")
                page: m.Lacking = await self.run_blocking(
                    peer.lacking.page, entry.repo, message, None, advertised
                )
                return page
        if isinstance(message, m.PushOffer):
            _, entry = await self._share(peer, message.repo, WRITE)
            return await self._receive_push(peer, entry, message)
        return m.ErrorReply(AccessDeniedError.code, "unsupported request")

    def _admit_fetch(self, peer: _Peer) -> None:
        """A session's first Want: refused when ``max_fetches`` other sessions already
        listed (each keeps its listing memory until it ends), as git daemon refuses
        connections beyond --max-connections."""
        busy = sum(1 for p in self._peers.values() if p is not peer and p.lacking.started)
        if busy >= self.max_fetches:
            log.info("peer %s refused: %d fetches in progress", peer.conn.peer_key.hex()[:16], busy)
            raise PeerError(
                f"busy: serving {busy} fetches already ([peer] max_fetches = "
                f"{self.max_fetches} there); try again in a moment"
            )

    async def _receive_push(
        self, peer: _Peer, entry: OpenRepository, offer: m.PushOffer
    ) -> m.PushResult:
        assert self.endpoint is not None
        if peer.channel is not None:
            raise PeerError("one push at a time per connection")
        repo = entry.repo
        if offer.block_size != repo.objects.block_size:
            # Read by the pusher: "here" is its repository.
            raise ConfigError(block_size_mismatch(offer.block_size, repo.objects.block_size))
        channel = LoopChannel(asyncio.get_running_loop(), self.endpoint, peer.conn)
        peer.channel = channel
        gate = repo.blocks.maintenance.gate
        gate.enter()
        received: ReceivedPush | None = None
        try:
            # The transfer runs beside local readers (status, log answer meanwhile);
            # only moving the refs, and maybe the checked-out worktree, is exclusive.
            async with entry.transferring():
                received = await self.run_blocking(receive_push_data, channel, repo, offer)
            async with entry.lock.acquire(True):
                who = Repository.signature(f"peer {peer.conn.peer_key.hex()[:16]}", "")
                result: m.PushResult = await self.run_blocking(
                    apply_push, repo, offer, received, who
                )
                return result
        finally:
            if received is not None:
                received.unpin(repo)
            gate.exit()
            peer.channel = None

    # -- blocks ---------------------------------------------------------------------------

    async def _serve_blocks(self, peer: _Peer) -> None:
        conn = peer.conn
        # Serving is foreground work: background migration pauses meanwhile, and auto
        # gc waits until the repository has been quiet for a while.
        gate = peer.readable.repo.blocks.maintenance.gate if peer.readable else None
        if gate is not None:
            gate.enter()
        try:
            while peer.pending and conn.state is not State.CLOSED:
                asked = [peer.pending.popleft() for _ in range(min(SERVE_CHUNK, len(peer.pending)))]
                readable = peer.readable
                if readable is None:
                    conn.blocks_missing([slot for slot, _ in asked])
                    self._kick()
                    continue
                # only blocks listed to this peer on this connection
                chunk, refused = split_offered(peer.lacking.offered, asked)
                if refused:
                    conn.blocks_missing(refused)
                    self._kick()
                if not chunk:
                    continue
                async with self._holding(peer, readable) as held:
                    if not held:
                        return
                    ids = [b for _, b in chunk]
                    datas = await self.run_blocking(read_blocks, readable.repo, ids)
                if _closed(conn):
                    return
                send_blocks(conn, [s for s, _ in chunk], datas)
                self._kick()
        finally:
            peer.serving = False
            if gate is not None:
                gate.exit()


def _closed(conn: Connection) -> bool:
    return conn.state is State.CLOSED


@dataclass(slots=True)
class ReceivedPush:
    """What the transfer phase of a received push leaves for the update phase."""

    results: dict[str, tuple[bool, str]]  # refused before any transfer
    accepted: list[m.RefUpdate]
    stats: TransferStats
    pinned: list[CommitId]

    def unpin(self, repo: Repository) -> None:
        for commit in self.pinned:
            repo.gc_pins.remove(commit)
        self.pinned.clear()


def _refusal(
    repo: Repository, update: m.RefUpdate, force: bool, received: bool = False
) -> str | None:
    """Why ``update`` is refused, or None. ``received``: its transfer is over, so its
    value must be here."""
    problem = check_ref_name(update.name)
    if problem is not None:
        return f"invalid ref name: {problem}"
    current = repo.refs.read(update.name)
    if not force and current != update.old:
        where = current.hex()[:12] if current else "nothing"
        return f"stale: the remote ref is at {where} (fetch first)"
    if update.new is not None:
        # Checked before the transfer when the value is stored here already, else
        # once the closure check has brought it (a value naming no commit is brought
        # alone, and refused here).
        if received and not repo.blocks.has(BlockId(update.new)):
            return "not received (the pusher did not send it)"
        return ref_value_problem(repo, update.name, update.new)
    return None


def receive_push_data(channel: LoopChannel, repo: Repository, offer: m.PushOffer) -> ReceivedPush:
    """Pull what the pusher offers for the refs it may still move, verified.

    Runs beside local readers (the caller holds the repository lock shared) and takes
    its turn with local fetches and pushes (``transfer_lock``). The new commits are
    pinned for gc until :func:`apply_push` has moved the refs: they are stored but
    not yet reachable from any ref.
    """
    results: dict[str, tuple[bool, str]] = {}
    accepted: list[m.RefUpdate] = []
    for update in offer.updates:
        why = _refusal(repo, update, offer.force)
        if why is None:
            accepted.append(update)
        else:
            results[update.name] = (False, why)
    received = ReceivedPush(results, accepted, TransferStats(), [])
    wants = [u.new for u in accepted if u.new is not None]  # deletions transfer nothing
    if wants:
        with repo.transfer_lock:
            received.stats = pull(channel, repo, "", wants, None, lambda _e: None)
        # A value naming no commit (refused by apply_push) is not a gc root: gc walks
        # its roots to commits. Should gc delete it meanwhile, apply_push refuses it
        # as not received.
        received.pinned = [CommitId(w) for w in wants if _names_a_commit(repo, w)]
        repo.gc_pins.extend(received.pinned)
    return received


def _names_a_commit(repo: Repository, value: bytes) -> bool:
    """Whether ``value`` is a commit, or an annotated tag (of tags) of one."""
    try:
        return repo.objects.is_commit(repo.objects.peel(value))
    except CofError:
        return False


def apply_push(
    repo: Repository, offer: m.PushOffer, received: ReceivedPush, who: Any
) -> m.PushResult:
    """Move each accepted ref by compare-and-swap (the caller holds the write lock).

    The refs are checked again: another push may have moved one since the transfer
    began, and exactly one of two concurrent pushes to a ref wins. Each new value,
    here now, must be of its ref's kind (a branch a commit; a tag a commit or an
    annotated tag of one): refused for that ref otherwise.
    """
    results = dict(received.results)
    for update in received.accepted:
        why = _refusal(repo, update, offer.force, received=True)
        if why is None:
            results[update.name] = _apply_update(repo, update, offer.force, who)
        else:
            results[update.name] = (False, why)
    log.info(
        "push received: %d block(s), %d bytes; %s",
        received.stats.blocks,
        received.stats.bytes,
        ", ".join(f"{n}: {'ok' if ok else msg}" for n, (ok, msg) in results.items()),
    )
    return m.PushResult(tuple((u.name, *results[u.name]) for u in offer.updates))


def _apply_update(repo: Repository, update: m.RefUpdate, force: bool, who: Any) -> tuple[bool, str]:
    current = repo.refs.read(update.name)
    if update.new is None:
        return _apply_delete(repo, update.name, current, who)
    new = CommitId(update.new)
    try:
        if current is not None and update.name.startswith("refs/heads/"):
            new_commit = repo.objects.peel(new)
            if not force and not is_ancestor(repo.objects.read_commit, current, new_commit):
                return False, "non-fast-forward (fetch and merge first, or push --force)"
        elif current is not None and not force:
            return False, "already exists"
        if update.name == repo.refs.head_target():
            _update_worktree(repo, current, repo.objects.peel(new))
        repo.refs.update(update.name, new, who, "push: from peer", expected=current)
    except ConflictError as exc:
        return False, exc.message
    return True, "updated"


def _apply_delete(
    repo: Repository, name: str, current: CommitId | None, who: Any
) -> tuple[bool, str]:
    """``push --delete``: never the branch checked out here (git's
    ``receive.denyDeleteCurrent``), and by compare-and-swap like any update."""
    if current is None:
        return False, "no such ref"
    if name == repo.refs.head_target():
        return False, "deleting the branch checked out there is refused"
    try:
        repo.refs.update(name, None, who, "push: deleted by peer", expected=current)
    except ConflictError as exc:
        return False, exc.message
    return True, "deleted"


def _update_worktree(repo: Repository, old: CommitId | None, new: CommitId) -> None:
    """The pushed branch is checked out here: carry local changes forward (git's
    ``receive.denyCurrentBranch=updateInstead``) or refuse if they would be lost."""
    state = repo.load_state()
    if state.conflicts:
        raise ConflictError("the branch is checked out with unresolved conflicts")
    with contextlib.suppress(FileNotFoundError):
        if (repo.cof_dir / "MERGE_HEAD").exists():
            raise ConflictError("the branch is checked out with a merge in progress")
    todo = check(repo, state, plan(repo, tree_of(repo, old), tree_of(repo, new)), "push")
    apply(repo, state, todo)
    repo.save_state(state)
