"""The receiving half of a transfer, as plain blocking code over a :class:`Channel`
(the serving half is :mod:`cofd.sync.serving`).

:func:`pull` streams: it asks for the next Lacking page while the blocks of the
previous ones arrive, drops the ids it already has, fetches the rest into a store
transaction, verifies the closure of the wanted commits and only then commits the
rest of it; refs move after that, in the caller. It never holds the whole id list:
memory is a few pages plus bounded :class:`~cofd.sync.recent.RecentIds`, whatever the
size of the transfer.

Interruptions keep what arrived (every block was verified against its id), so a
re-run moves only what is still missing: the transaction is checkpointed (committed
durably) every ``CHECKPOINT_BYTES`` or ``CHECKPOINT_SECONDS``, also while a peer
stalls, which bounds what a killed daemon loses; a transfer cut short by the peer or
cancelled by the user (Ctrl-C: the session raises CancelledError) commits everything
that arrived. A transfer whose data fails verification (a tree with ``..`` in a name,
a manifest that lies about sizes, a missing block) rolls back what came after the
last checkpoint; blocks of earlier checkpoints stay as unreferenced blocks (they
hashed right; gc reclaims them) and no ref points at anything new.

A :class:`Channel` is one connection seen from the thread running the transfer:
the client's :class:`cofd.net.driver.Driver`, or the daemon's loop-owned connection
(``cofd.sync.server.LoopChannel``) for a push being received.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar, cast

from cofd.ops.repository import Repository
from cofd.store.blockstore import WriteTxn
from cofd.store.ids import BlockId
from cofd.sync.recent import RecentIds
from cofd.sync.walk import MissingWalk, ref_tips, spaced_haves
from protocol.errors import CancelledError, CofError, IntegrityError, PeerError, ProtocolError
from protocol.peer import events as ev
from protocol.peer import messages as m
from protocol.peer.connection import Connection

T = TypeVar("T")
STORE_BATCH = 256  # received blocks stored per put_many (1 MiB of 4 KiB blocks)
PENDING_BATCHES = 16  # batches received but not yet stored (16 MiB of 4 KiB blocks)
EXISTING_BATCH = 8192  # ids per existence query
PROGRESS_INTERVAL = 0.25  # seconds between progress reports
MAX_LISTED = 50_000_000  # ids a peer may list in one transfer: 1.5 TiB of 32 KiB blocks
# The receiver asks for the next page once fewer blocks than this are outstanding:
# 64 MiB of runway, a few hundred ms at the receiving rate, against a page's round trip
# of 15-50 ms; at most REFILL_BELOW + LACKING_PAGE ids are outstanding at a time.
REFILL_BELOW = 16_384
# Ids a receiver remembers as fetched or found present (RecentIds, 12 to 24 MiB): they
# are neither fetched twice nor looked up again by the closure check.
KNOWN_CAPACITY = 1 << 18
# The store transaction is committed (durably) every so many bytes or seconds, so a
# receiving daemon killed or a transfer cancelled keeps what arrived before: a re-run
# fetches only the rest. Each checkpoint fsyncs what was written since the last one.
CHECKPOINT_BYTES = 128 * 1024 * 1024
CHECKPOINT_SECONDS = 5.0
IDLE_HANDOVER = 1.0  # seconds without an event before received blocks go to storage
IDLE_POLL = 0.25  # seconds the storing thread waits for a batch before looking around

OtherEvent = Callable[[ev.Event], None]
Batch = tuple[list[BlockId], list[bytes]]  # verified blocks and their ids, for put_many
Progress = Callable[[dict[str, Any]], None]


class Channel(Protocol):
    peer_name: str

    def call(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` where the connection lives; return its result."""
        ...

    def next_event(self, timeout: float | None = None) -> ev.Event | None:
        """The next event of the connection (blocking)."""
        ...


@dataclass(slots=True)
class TransferStats:
    listed: int = 0  # ids the peer said we lack
    pages: int = 0  # Lacking pages they came in
    skipped: int = 0  # of those, already present here
    blocks: int = 0  # blocks received and stored
    bytes: int = 0  # payload bytes of those blocks
    checkpoints: int = 0  # store commits during the transfer (the last one not counted)
    seconds: float = 0.0  # the whole pull: the three phases below and the commit
    negotiating: float = 0.0  # haves, Want/Lacking pages, dropping ids present here
    receiving: float = 0.0  # block transfer into the store transaction
    verifying: float = 0.0  # closure check

    def to_dict(self) -> dict[str, Any]:
        rate = self.bytes / self.seconds if self.seconds > 0 else 0.0
        return {
            "listed": self.listed,
            "pages": self.pages,
            "skipped": self.skipped,
            "blocks": self.blocks,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 4),
            "rate": round(rate),
            "phases": {
                "negotiating": round(self.negotiating, 4),
                "receiving": round(self.receiving, 4),
                "verifying": round(self.verifying, 4),
            },
        }


# -- receiving ------------------------------------------------------------------------


def wait_response(channel: Channel, rid: int, other: OtherEvent) -> m.Message:
    """Pump events until request ``rid`` is answered; others go to ``other``."""
    while True:
        event = channel.next_event()
        if isinstance(event, ev.ResponseReceived) and event.request_id == rid:
            return event.message
        if isinstance(event, ev.RequestFailed) and event.request_id == rid:
            raise event.error
        if isinstance(event, ev.ConnectionTerminated):
            raise _terminated(channel, event)
        if event is not None:
            other(event)


def _terminated(channel: Channel, event: ev.ConnectionTerminated) -> PeerError:
    if isinstance(event.error, PeerError):
        return event.error
    why = f": {event.error.message}" if event.error is not None else ""
    return PeerError(f"peer {channel.peer_name} closed the connection{why}")


def _store_ids(ids: list[m.BlockId]) -> list[BlockId]:
    """The same ids under the store's type (both are plain bytes at run time)."""
    return cast(list[BlockId], ids)


class _Listing:
    """The receiver's side of the Want/Lacking exchange: asks pages in order, checks
    each against what was asked, and keeps the transfer's listing bounded."""

    def __init__(self, channel: Channel, want: m.Want) -> None:
        self.channel, self.want = channel, want
        self.asked = 0  # ids listed so far: the offset of the next page
        self.complete = False
        self.pending: int | None = None  # request id of the page asked for

    def ask(self) -> None:
        want = replace(self.want, offset=self.asked)
        self.pending = self.channel.call(lambda c: c.send_request(want))

    def accept(self, reply: m.Message) -> m.Lacking:
        name = self.channel.peer_name
        if not isinstance(reply, m.Lacking):
            raise ProtocolError(f"peer {name} answered Want with {type(reply).__name__}")
        if reply.offset != self.asked or (not reply.ids and not reply.complete):
            raise ProtocolError(f"peer {name} sent an inconsistent Lacking page")
        self.asked += len(reply.ids)
        if self.asked > MAX_LISTED:
            raise ProtocolError(f"peer {name} listed more than {MAX_LISTED} blocks")
        self.pending, self.complete = None, reply.complete
        return reply


class _Receiver:
    """Lists and fetches what the peer says we lack into ``txn``; raises on failure.

    Two threads share the work: a pump thread drives the connection (Want pages,
    datagrams, decryption, reassembly, verification against ids, requests, and
    ``other`` events) and hands verified blocks over in batches; the calling thread,
    which owns the store transaction (SQLite connections are per thread), writes them
    with ``put_many``. Storage (pack writes, index inserts) thus overlaps the network
    instead of stalling it, and the SQLite and file work runs without the GIL. Blocks
    are not hashed again: ``put_many`` gets the ids the connection verified them against.

    The pump asks for the next Lacking page when fewer than ``REFILL_BELOW`` blocks
    are outstanding, and drops from each page the ids it has fetched or found already
    (``known``) and, unless the store was empty, those the store already holds (a
    query on a connection of its own: it sees what was committed — before the transfer,
    at its checkpoints, or by a commit that took its turn at one of them — and
    ``known`` covers the rest of what this transaction wrote).
    """

    def __init__(
        self,
        channel: Channel,
        repo: Repository,
        txn: WriteTxn,
        stats: TransferStats,
        progress: Progress | None,
    ) -> None:
        self.channel, self.repo, self.txn = channel, repo, txn
        self.stats, self.progress = stats, progress
        self.started = time.monotonic()
        self.listed_at: float | None = None  # when the first page arrived
        self.known = RecentIds(KNOWN_CAPACITY)  # ids fetched or found present
        self.listing: _Listing | None = None
        self._last_report = 0.0
        self._unsaved = 0  # bytes stored since the last checkpoint
        self._saved_at = self.started
        self._stop = False

    def run(self, want: m.Want, other: OtherEvent) -> None:
        batches: queue.Queue[Batch | None] = queue.Queue(maxsize=PENDING_BATCHES)
        failure: list[BaseException] = []
        check_store = not self.repo.blocks.index.is_empty()  # a first clone skips lookups

        def pump() -> None:
            try:
                if check_store:
                    with self.repo.blocks.index.reader() as reader:
                        self._pump(want, reader.existing, other, batches)
                else:
                    self._pump(want, None, other, batches)
            except BaseException as exc:  # handed to the calling thread
                failure.append(exc)
            finally:
                batches.put(None)

        thread = threading.Thread(target=pump, name="cof-sync-receive", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    batch = batches.get(timeout=IDLE_POLL)
                except queue.Empty:  # a stalled peer: save what came, let writers in
                    self._checkpoint_if_due()
                    continue
                if batch is None:
                    break
                self._store(batch)
        except BaseException:
            self._stop = True
            while batches.get() is not None:  # let the pump finish and exit
                pass
            raise
        finally:
            thread.join()
        if failure:
            raise failure[0]

    def _pump(
        self,
        want: m.Want,
        existing: Callable[[Sequence[BlockId]], set[BlockId]] | None,
        other: OtherEvent,
        out: queue.Queue[Batch | None],
    ) -> None:
        channel = self.channel
        listing = self.listing = _Listing(channel, want)
        listing.ask()
        outstanding: set[bytes] = set()
        ids: list[m.BlockId] = []
        datas: list[bytes] = []
        try:
            while (outstanding or listing.pending is not None) and not self._stop:
                event = channel.next_event(IDLE_HANDOVER)
                if event is None and ids:  # the peer stalls: let the blocks be saved
                    out.put((_store_ids(ids), datas))
                    ids, datas = [], []
                if isinstance(event, ev.BlocksReceived):
                    for block_id, data in event.blocks:
                        if block_id in outstanding:
                            outstanding.discard(block_id)
                            ids.append(block_id)
                            datas.append(data)
                    if len(ids) >= STORE_BATCH:
                        out.put((_store_ids(ids), datas))
                        ids, datas = [], []
                elif isinstance(event, ev.ResponseReceived) and (
                    event.request_id == listing.pending
                ):
                    page = listing.accept(event.message)
                    fresh = self._select(page.ids, outstanding, existing)
                    if fresh:
                        outstanding.update(fresh)
                        channel.call(lambda c, f=fresh: c.fetch_blocks(f))  # type: ignore[misc]
                elif isinstance(event, ev.BlockFailed) or (
                    isinstance(event, ev.RequestFailed) and event.request_id == listing.pending
                ):
                    raise event.error
                elif isinstance(event, ev.ConnectionTerminated):
                    raise _terminated(channel, event)
                elif event is not None:
                    other(event)
                if (
                    listing.pending is None
                    and not listing.complete
                    and len(outstanding) < REFILL_BELOW
                ):
                    listing.ask()
        finally:
            if ids:
                out.put((_store_ids(ids), datas))

    def _checkpoint_if_due(self) -> None:
        """Commit the blocks stored so far every CHECKPOINT_BYTES or _SECONDS, and
        whenever another writer waits for the store (a commit during the fetch)."""
        if self.txn.others_waiting or (
            self._unsaved
            and (
                self._unsaved >= CHECKPOINT_BYTES
                or time.monotonic() - self._saved_at >= CHECKPOINT_SECONDS
            )
        ):
            self.txn.checkpoint()
            self.stats.checkpoints += 1
            self._unsaved, self._saved_at = 0, time.monotonic()

    def _select(
        self,
        listed: Sequence[m.BlockId],
        outstanding: set[bytes],
        existing: Callable[[Sequence[BlockId]], set[BlockId]] | None,
    ) -> list[m.BlockId]:
        """The ids of a page still to fetch; the others were fetched or are here."""
        if self.listed_at is None:
            self.listed_at = time.monotonic()
        known = self.known
        fresh = [i for i in dict.fromkeys(listed) if i not in known and i not in outstanding]
        if existing is not None and fresh:
            present: set[bytes] = set(existing([BlockId(i) for i in fresh]))
            if present:
                fresh = [i for i in fresh if i not in present]
        known.update(listed)
        self.stats.pages += 1
        self.stats.listed += len(listed)
        self.stats.skipped += len(listed) - len(fresh)
        return fresh

    def _store(self, batch: Batch) -> None:
        ids, datas = batch
        # The ids are trusted: the connection hashed every block (BLAKE3, as the store
        # does) and compared it with the id it was requested under before handing it on.
        # They are absent from the store, but for an id listed twice so far apart that
        # ``known`` forgot it in between: put_many keeps the first copy of that one.
        self.txn.put_many(datas, ids, absent=True)
        self.stats.blocks += len(ids)
        size = sum(len(b) for b in datas)
        self.stats.bytes += size
        self._unsaved += size
        self._checkpoint_if_due()
        now = time.monotonic()
        if self.progress is not None and now - self._last_report >= PROGRESS_INTERVAL:
            self._last_report = now
            rate = self.stats.bytes / max(now - self.started, 1e-6) / 1e6
            report: dict[str, Any] = {
                "phase": "receiving",
                "done": self.stats.blocks,
                "unit": "blocks",
                "item": f"{self.stats.bytes / 1048576:.1f} MiB, {rate:.1f} MB/s",
            }
            if self.listing is not None and self.listing.complete:  # else still growing
                report["total"] = self.stats.listed - self.stats.skipped
            self.progress(report)


def verify_closure(
    repo: Repository,
    wants: list[bytes],
    haves: list[bytes],
    known: RecentIds | None = None,
    loose: Container[bytes] = (),
) -> int:
    """Check that everything reachable from ``wants`` is here and well-formed.

    Structural objects are read (re-hashed) and decoded, which validates tree entry
    names and manifest shapes; data blocks are checked for presence (each was hashed
    against its id on arrival), except those in ``known``: ids known to be stored
    (found in the store, or written by this transaction). The walk streams, so memory
    stays bounded. Returns the highest commit ``sequence`` among the new commits.

    A want in ``loose`` may name something else than a commit: its object must be
    here, but what it reaches is not checked, so the caller must refuse such a value
    (``serving.ref_value_problem``) rather than write it to a ref.
    """
    walk = MissingWalk(repo.objects)
    batch: list[BlockId] = []

    def check() -> None:
        present = repo.blocks.existing(batch) if batch else set()
        absent = [i for i in batch if i not in present]
        if absent:
            raise IntegrityError(
                f"transfer incomplete: reachable block {absent[0].hex()} is missing"
                + (f" (and {len(absent) - 1} more in the same batch)" if len(absent) > 1 else "")
            )
        batch.clear()

    for leaf in walk.iter(wants, haves, loose):
        if known is None or leaf not in known:
            batch.append(leaf)
            if len(batch) >= EXISTING_BATCH:
                check()
    check()
    return walk.max_sequence


def pull(
    channel: Channel,
    repo: Repository,
    repo_name: str,
    wants: list[bytes],
    progress: Progress | None,
    other: OtherEvent,
) -> TransferStats:
    """Fetch everything reachable from ``wants`` that ``repo`` lacks, verified.

    A want that turns out to name no commit (a branch at a tree, listed by the peer
    alone) passes with its own object fetched and checked, nothing more: the caller
    decides each ref by what its value is here (``serving.ref_value_problem``), so one
    such ref is refused alone instead of failing the whole transfer."""
    stats = TransferStats()
    started = time.monotonic()
    if not wants:
        return stats
    haves = spaced_haves(repo.objects, ref_tips(repo.refs))
    want = m.Want(repo_name, tuple(map(m.BlockId, wants)), tuple(map(m.BlockId, haves)), 0)
    failure: CofError | None = None
    with repo.blocks.transaction() as txn:
        receiver = _Receiver(channel, repo, txn, stats, progress)
        try:
            receiver.run(want, other)
        except (PeerError, CancelledError) as exc:
            failure = exc  # keep what arrived (verified blocks): a re-run skips them
        listed_at = receiver.listed_at or time.monotonic()
        stats.negotiating = listed_at - started
        stats.receiving = time.monotonic() - listed_at
        if failure is None:
            if progress is not None:
                progress({"phase": "verifying", "done": stats.blocks, "unit": "blocks"})
            # Every id in ``known`` is stored now: those found present were in the store
            # (only gc and fsck delete blocks, and they take the prune lock exclusively,
            # which every transfer holds shared), the others were just written.
            tips = list(ref_tips(repo.refs))
            generation = verify_closure(repo, wants, tips, receiver.known, frozenset(wants))
            if generation:
                txn.assign_generation(generation)
            stats.verifying = time.monotonic() - listed_at - stats.receiving
    stats.seconds = time.monotonic() - started
    if failure is not None:
        raise failure
    return stats
