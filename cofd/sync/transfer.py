"""Both halves of a transfer, as plain blocking code over a :class:`Channel`.

The serving half answers from a repository: ``refs_message`` (ListRefs),
:class:`LackingCache` (Want, paged) and ``read_blocks`` (BlocksRequested).
The receiving half, :func:`pull`, negotiates (Want pages), drops the ids it already
has, fetches the rest into one store transaction, verifies the closure of the wanted
commits inside that transaction and only then commits it. A transfer cut short by
the peer commits what arrived (every block was verified against its id), so a re-run
moves only what is still missing; a transfer whose data fails verification (a tree
with ``..`` in a name, a manifest that lies about sizes, a missing block) is rolled
back: nothing is written.

A :class:`Channel` is one connection seen from the thread running the transfer:
the client's :class:`cofd.net.driver.Driver`, or the daemon's loop-owned connection
(``cofd.sync.server.LoopChannel``) for a push being received.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cofd.objects.refs import ref_name_problem
from cofd.ops.repository import Repository
from cofd.store.blockstore import WriteTxn
from cofd.store.ids import BlockId
from cofd.sync.walk import MissingWalk, ref_tips, spaced_haves
from protocol.errors import CofError, IntegrityError, PeerError, ProtocolError
from protocol.peer import events as ev
from protocol.peer import messages as m
from protocol.peer.connection import Connection
from protocol.peer.limits import MAX_IDS, MAX_REFS

T = TypeVar("T")
STORE_BATCH = 256  # received blocks stored per put_many (1 MiB of 4 KiB blocks)
PENDING_BATCHES = 16  # batches received but not yet stored (16 MiB of 4 KiB blocks)
EXISTING_BATCH = 8192  # ids per existence query
PROGRESS_INTERVAL = 0.25  # seconds between progress reports
MAX_LACKING_TOTAL = 50_000_000  # ids a peer may announce: 1.5 TiB of 32 KiB blocks
SHAREABLE_PREFIXES = ("refs/heads/", "refs/tags/")

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
    skipped: int = 0  # of those, already present here
    blocks: int = 0  # blocks received and stored
    bytes: int = 0  # payload bytes of those blocks
    seconds: float = 0.0  # the whole pull: the three phases below and the commit
    negotiating: float = 0.0  # haves, Want/Lacking pages, dropping ids present here
    receiving: float = 0.0  # block transfer into the store transaction
    verifying: float = 0.0  # closure check

    def to_dict(self) -> dict[str, Any]:
        rate = self.bytes / self.seconds if self.seconds > 0 else 0.0
        return {
            "listed": self.listed,
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


# -- serving ----------------------------------------------------------------------------


def refs_message(repo: Repository) -> m.Refs:
    """Branches and tags, plus the branch HEAD points at (empty when detached)."""
    refs = [
        (name, bytes(value))
        for name, value in repo.refs.iter_refs("refs/")
        if name.startswith(SHAREABLE_PREFIXES)
    ][:MAX_REFS]
    head = repo.refs.head_target() or ""
    return m.Refs(tuple(refs), head if head.startswith("refs/heads/") else "")


class LackingCache:
    """Answers Want pages; the id list is computed once per (wants, haves)."""

    def __init__(self) -> None:
        self._key: tuple[tuple[bytes, ...], tuple[bytes, ...]] | None = None
        self._ids: list[BlockId] = []

    def page(self, repo: Repository, want: m.Want) -> m.Lacking:
        key = (want.wants, want.haves)
        if key != self._key or want.offset == 0:
            self._ids = MissingWalk(repo.objects).run(want.wants, want.haves)
            self._key = key
        ids = self._ids[want.offset : want.offset + MAX_IDS]
        return m.Lacking(tuple(m.BlockId(i) for i in ids), want.offset, len(self._ids))

    def ids(self) -> set[BlockId]:
        return set(self._ids)


def read_blocks(repo: Repository, ids: Sequence[BlockId]) -> list[bytes | None]:
    """The blocks in order; None for each one this store does not have."""
    try:
        return list(repo.blocks.get_many(ids))
    except IntegrityError:
        pass  # some are missing (or unreadable): fall back to one at a time
    out: list[bytes | None] = []
    for block_id in ids:
        try:
            out.append(repo.blocks.get(block_id))
        except IntegrityError:
            out.append(None)
    return out


def send_blocks(conn: Connection, slots: Sequence[int], datas: Sequence[bytes | None]) -> None:
    """Answer requested slots: each block read is sent, each one missing reported."""
    missing = []
    for slot, data in zip(slots, datas, strict=True):
        if data is None:
            missing.append(slot)
        else:
            conn.send_block(slot, data)
    if missing:
        conn.blocks_missing(missing)


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


def negotiate(
    channel: Channel, repo_name: str, wants: list[bytes], haves: list[bytes], other: OtherEvent
) -> list[BlockId]:
    """Every id the peer says we lack (all Lacking pages), duplicates removed."""
    ids: dict[bytes, None] = {}
    offset = 0
    while True:
        want = m.Want(repo_name, tuple(map(m.BlockId, wants)), tuple(map(m.BlockId, haves)), offset)
        rid = channel.call(lambda c, w=want: c.send_request(w))  # type: ignore[misc]
        page = wait_response(channel, rid, other)
        if not isinstance(page, m.Lacking):
            raise ProtocolError(
                f"peer {channel.peer_name} answered Want with {type(page).__name__}"
            )
        if page.offset != offset or page.total > MAX_LACKING_TOTAL:
            raise ProtocolError(f"peer {channel.peer_name} sent an inconsistent Lacking page")
        ids.update(dict.fromkeys(page.ids))
        offset += len(page.ids)
        if offset >= page.total or not page.ids:
            return [BlockId(i) for i in ids]


def drop_existing(repo: Repository, ids: list[BlockId]) -> list[BlockId]:
    if repo.blocks.index.is_empty():  # a first clone: 131k lookups per 512 MiB saved
        return ids
    present: set[BlockId] = set()
    for at in range(0, len(ids), EXISTING_BATCH):
        present |= repo.blocks.existing(ids[at : at + EXISTING_BATCH])
    return [i for i in ids if i not in present]


class _Receiver:
    """Fetches ``missing`` into ``txn``, reporting progress; raises on failure.

    Two threads share the work: a pump thread drives the connection (datagrams,
    decryption, reassembly, verification against ids, requests, and ``other`` events)
    and hands verified blocks over in batches; the calling thread, which owns the store
    transaction (SQLite connections are per thread), writes them with ``put_many``.
    Storage (pack writes, index inserts) thus overlaps the network instead of stalling
    it, and the SQLite and file work runs without the GIL. Blocks are not hashed again:
    ``put_many`` gets the ids the connection verified them against.
    """

    def __init__(
        self, channel: Channel, txn: WriteTxn, stats: TransferStats, progress: Progress | None
    ) -> None:
        self.channel, self.txn, self.stats, self.progress = channel, txn, stats, progress
        self.started = time.monotonic()
        self._last_report = 0.0
        self._stop = False

    def run(self, missing: list[BlockId], other: OtherEvent) -> None:
        batches: queue.Queue[Batch | None] = queue.Queue(maxsize=PENDING_BATCHES)
        failure: list[BaseException] = []

        def pump() -> None:
            try:
                self._pump(missing, other, batches)
            except BaseException as exc:  # handed to the calling thread
                failure.append(exc)
            finally:
                batches.put(None)

        thread = threading.Thread(target=pump, name="cof-sync-receive", daemon=True)
        thread.start()
        try:
            while (batch := batches.get()) is not None:
                self._store(batch, len(missing))
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
        self, missing: list[BlockId], other: OtherEvent, out: queue.Queue[Batch | None]
    ) -> None:
        outstanding: set[bytes] = set(missing)
        self.channel.call(lambda c: c.fetch_blocks([m.BlockId(b) for b in missing]))
        ids: list[BlockId] = []
        datas: list[bytes] = []
        try:
            while outstanding and not self._stop:
                event = self.channel.next_event()
                if isinstance(event, ev.BlockReceived):
                    if event.block_id in outstanding:
                        outstanding.discard(event.block_id)
                        ids.append(BlockId(event.block_id))
                        datas.append(event.data)
                        if len(ids) >= STORE_BATCH:
                            out.put((ids, datas))
                            ids, datas = [], []
                elif isinstance(event, ev.BlockFailed):
                    raise event.error
                elif isinstance(event, ev.ConnectionTerminated):
                    raise _terminated(self.channel, event)
                elif event is not None:
                    other(event)
        finally:
            if ids:
                out.put((ids, datas))

    def _store(self, batch: Batch, total: int) -> None:
        ids, datas = batch
        # The ids are trusted: the connection hashed every block (BLAKE3, as the store
        # does) and compared it with the id it was requested under before handing it on.
        # They are absent from the store: pull() dropped the ids present before asking
        # for them, under the repository's write lock.
        self.txn.put_many(datas, ids, absent=True)
        self.stats.blocks += len(ids)
        self.stats.bytes += sum(len(b) for b in datas)
        now = time.monotonic()
        if self.progress is not None and now - self._last_report >= PROGRESS_INTERVAL:
            self._last_report = now
            rate = self.stats.bytes / max(now - self.started, 1e-6) / 1e6
            self.progress(
                {
                    "phase": "receiving",
                    "done": self.stats.blocks,
                    "total": total,
                    "unit": "blocks",
                    "item": f"{self.stats.bytes / 1048576:.1f} MiB, {rate:.1f} MB/s",
                }
            )


def verify_closure(
    repo: Repository,
    wants: list[bytes],
    haves: list[bytes],
    present: set[BlockId] | frozenset[BlockId] = frozenset(),
) -> int:
    """Check that everything reachable from ``wants`` is here and well-formed.

    Structural objects are read (re-hashed) and decoded, which validates tree entry
    names and manifest shapes; data blocks are checked for presence (each was hashed
    against its id on arrival), except those in ``present``:
    ids known to be stored (found in the store, or written by this transaction).
    Returns the highest commit ``sequence`` among the new commits (the generation).
    """
    walk = MissingWalk(repo.objects)
    leaves = walk.run(wants, haves)
    absent = drop_existing(repo, [i for i in leaves if i not in present])
    if absent:
        raise IntegrityError(
            f"transfer incomplete: {len(absent)} reachable block(s) missing, e.g. {absent[0].hex()}"
        )
    return walk.max_sequence


def pull(
    channel: Channel,
    repo: Repository,
    repo_name: str,
    wants: list[bytes],
    progress: Progress | None,
    other: OtherEvent,
) -> TransferStats:
    """Fetch everything reachable from ``wants`` that ``repo`` lacks, verified."""
    stats = TransferStats()
    started = time.monotonic()
    if not wants:
        return stats
    haves = spaced_haves(repo.objects, ref_tips(repo.refs))
    listed = negotiate(channel, repo_name, wants, haves, other)
    missing = drop_existing(repo, listed)
    stats.listed, stats.skipped = len(listed), len(listed) - len(missing)
    stats.negotiating = time.monotonic() - started
    failure: CofError | None = None
    with repo.blocks.transaction() as txn:
        try:
            if missing:
                _Receiver(channel, txn, stats, progress).run(missing, other)
        except PeerError as exc:
            failure = exc  # keep what arrived (verified blocks): a re-run skips them
        stats.receiving = time.monotonic() - started - stats.negotiating
        if failure is None:
            if progress is not None:
                progress({"phase": "verifying", "done": stats.blocks, "unit": "blocks"})
            # Every listed id is stored now: skipped ones were found in the store (the
            # repository's write lock keeps them there), the others were just written.
            generation = verify_closure(repo, wants, list(ref_tips(repo.refs)), set(listed))
            if generation:
                txn.assign_generation(generation)
            stats.verifying = time.monotonic() - started - stats.negotiating - stats.receiving
    stats.seconds = time.monotonic() - started
    if failure is not None:
        raise failure
    return stats


def check_ref_name(name: str) -> str | None:
    """Why a ref name from a peer is unacceptable, or None."""
    if not name.startswith(SHAREABLE_PREFIXES):
        return "only refs/heads/* and refs/tags/* are exchanged"
    return ref_name_problem(name.split("/", 2)[2])
