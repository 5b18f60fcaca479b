"""The serving half of a transfer: what a daemon answers a peer that fetches from it
(and what a pusher answers the daemon that pulls from it).

``refs_message`` answers ListRefs, :class:`LackingPages` answers Want (paged, from one
streaming walk), ``read_blocks`` and ``send_blocks`` answer block requests. The
receiving half is :mod:`cofd.sync.transfer`.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Sequence

from cofd.config import DEFAULT_LISTING_PAGE
from cofd.objects.encoding import MAX_OBJECT_BYTES, object_tag
from cofd.objects.model import CommitId, TagId, TreeId
from cofd.objects.refs import ref_name_problem
from cofd.ops.repository import Repository
from cofd.store.ids import BlockId
from cofd.store.manifest import decode_node, is_node
from cofd.sync.recent import RecentIds
from cofd.sync.walk import MAX_TAG_DEPTH, MissingWalk
from protocol.errors import AccessDeniedError, IntegrityError, ProtocolError
from protocol.peer import messages as m
from protocol.peer.connection import Connection
from protocol.peer.limits import MAX_REFS

# Ids per Lacking page served: 256 MiB of 4 KiB blocks in a 2.1 MiB message. Each page
# costs the receiver ~40 ms of message handling on its busiest thread; at 16 384 ids a
# page, a 512 MiB clone took 0.3-0.45 s longer than with 65 536 (measured side by side).
LACKING_PAGE = DEFAULT_LISTING_PAGE  # [peer] listing_page_blocks sets it lower
# Ids a serving side remembers having listed, the only ones it serves: the receiver
# asks for blocks of its last page or so (at most transfer.REFILL_BELOW + LACKING_PAGE
# outstanding, 81 920), and RecentIds(2^18) remembers at least the last 131 072.
OFFERED_CAPACITY = 1 << 18
SHAREABLE_PREFIXES = ("refs/heads/", "refs/tags/")


def block_size_mismatch(here: int, there: int) -> str:
    """Why two repositories cannot share history: a file's blocks (and manifests)
    depend on the block size, fixed when each repository was made. Worded for the
    user who reads it: ``here`` is their repository, ``there`` the peer's."""
    return (
        f"the repositories use different block sizes ({there} bytes there, {here} "
        "here): they cannot share history; clone into a new directory instead"
    )


def shown_refs(repo: Repository) -> list[tuple[str, bytes]]:
    """The refs a peer is shown: branches and tags (the first ``MAX_REFS``)."""
    return [
        (name, bytes(value))
        for name, value in repo.refs.iter_refs("refs/")
        if name.startswith(SHAREABLE_PREFIXES)
    ][:MAX_REFS]


def shared_values(repo: Repository) -> frozenset[bytes]:
    """The values of the refs a peer is shown now (branches and tags)."""
    return frozenset(value for _, value in shown_refs(repo))


def refs_message(repo: Repository) -> m.Refs:
    """Branches and tags, plus the branch HEAD points at (empty when detached)."""
    head = repo.refs.head_target() or ""
    head = head if head.startswith("refs/heads/") else ""
    return m.Refs(tuple(shown_refs(repo)), head, repo.objects.block_size)


def check_wants(wants: Sequence[bytes], allowed: Collection[bytes]) -> None:
    """Refuse a Want naming an id that is not the value of a ref the peer was shown
    (git's "not our ref"): a read grant is not a way to fetch what no shown ref
    names, such as the commits of a deleted branch gc has not collected yet."""
    for want in wants:
        if want not in allowed:
            raise AccessDeniedError(
                f"not our ref {want.hex()}: only the values of the branches and tags "
                "listed to this peer are served"
            )


class LackingPages:
    """Answers Want pages from one streaming :class:`MissingWalk` per (wants, haves).

    Pages are asked in order: ``offset`` 0 starts a walk, each later page continues it
    at the number of ids sent so far. The last page is kept to answer the same request
    again (its reply may have been lost). Memory: the walk's bounded ``seen``, one page
    and ``offered``, whatever the size of the listing.

    ``offered`` holds the ids listed (recently) on this connection: only those blocks
    are served to it, as git serves only what is reachable from what it advertised. A
    peer holding a read grant thus cannot probe the store for blocks no ref reaches
    any more (a deleted secret is not gone until gc) by guessing their ids.
    """

    def __init__(self, page_size: int = LACKING_PAGE) -> None:
        self.page_size = page_size
        self.offered = RecentIds(OFFERED_CAPACITY)
        self._key: tuple[str, tuple[bytes, ...], tuple[bytes, ...]] | None = None
        self._walk: Iterator[BlockId] | None = None
        self._sent = 0
        self._last: m.Lacking | None = None

    @property
    def started(self) -> bool:
        """Whether this session has listed anything (and so holds listing memory)."""
        return self._key is not None or len(self.offered) > 0

    def page(
        self,
        repo: Repository,
        want: m.Want,
        allowed: Collection[bytes] | None = None,
        advertised: frozenset[bytes] = frozenset(),
    ) -> m.Lacking:
        """The page ``want`` asks for. Every want must be in ``allowed``, by default
        the values of ``repo``'s shown refs now and those ``advertised`` to the peer
        earlier on this connection (a ref moved since it was listed is fetched at the
        value the peer saw). As git serves only what it advertised, an object no
        shown ref names is not served by its id: the Want fails ("not our ref")
        before anything is listed. A want naming no commit (a branch at a tree) is
        listed alone, for the peer to see what it is and refuse that ref."""
        key = (want.repo, want.wants, want.haves)
        last = self._last
        if last is not None and key == self._key and want.offset == last.offset:
            return last
        if want.offset == 0:
            if allowed is None:
                allowed = shared_values(repo) | advertised
            check_wants(want.wants, allowed)
            self._key, self._sent = key, 0
            self._walk = MissingWalk(repo.objects).iter(want.wants, want.haves, allowed)
        elif key != self._key or want.offset != self._sent or self._walk is None:
            raise ProtocolError("Want pages must be asked in order, starting at offset 0")
        try:
            ids = tuple(m.BlockId(i) for i in itertools.islice(self._walk, self.page_size))
        except BaseException:
            self._key, self._walk, self._last = None, None, None  # a broken walk is not resumed
            raise
        self._last = m.Lacking(ids, want.offset, len(ids) < self.page_size)
        self.offered.update(ids)
        self._sent += len(ids)
        if self._last.complete:
            self._walk = None  # its memory goes now, not when the connection ends
        return self._last


def split_offered(
    offered: RecentIds, blocks: Sequence[tuple[int, m.BlockId]]
) -> tuple[list[tuple[int, m.BlockId]], list[int]]:
    """Block requests to serve, and the slots of those never listed to this peer."""
    allowed: list[tuple[int, m.BlockId]] = []
    refused: list[int] = []
    for slot, block_id in blocks:
        if block_id in offered:
            allowed.append((slot, block_id))
        else:
            refused.append(slot)
    return allowed, refused


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


def check_ref_name(name: str) -> str | None:
    """Why a ref name from a peer is unacceptable, or None."""
    if not name.startswith(SHAREABLE_PREFIXES):
        return "only refs/heads/* and refs/tags/* are exchanged"
    return ref_name_problem(name.split("/", 2)[2])


_KIND_TEXT = {"tag": "an annotated tag object", "tree": "a tree", "data": "file data"}


def ref_value_problem(
    repo: Repository, name: str, value: bytes, explain: bool = True
) -> str | None:
    """Why ``value`` may not be the value of ref ``name`` (a peer's), or None.

    As git refuses to write a non-commit object to a branch, a branch (any ref outside
    ``refs/tags/``: remote-tracking ones too) must name a commit; a tag a commit or an
    annotated tag of one (tags of tags, as :meth:`ObjectStore.peel` follows them).
    None too while ``value``, or a tag's target, is not stored here: the caller checks
    again once the transfer brought it (a value that does not peel to a commit comes
    alone, its own object only: ``transfer.pull``), and must refuse a value still
    absent then. With ``explain``, a branch's reason ends with the rule it breaks (a
    fetch's ref line keeps it short).
    """
    kind = object_kind(repo, value)
    if kind in (None, "commit"):
        return None
    if not name.startswith("refs/tags/"):
        why = f"not a commit: {_KIND_TEXT[kind]}"
        return f"{why} (a branch must name a commit)" if explain else why
    if kind != "tag":
        return f"not a commit or an annotated tag: {_KIND_TEXT[kind]}"
    for _ in range(MAX_TAG_DEPTH):
        value = repo.objects.read_tag(TagId(value)).target
        kind = object_kind(repo, value)
        if kind != "tag":
            break
    if kind in (None, "commit"):
        return None
    return f"an annotated tag of {_KIND_TEXT[kind]}, not of a commit"


def peeled_kind(repo: Repository, value: bytes) -> str | None:
    """What a ref value names once annotated tags are peeled: "commit", "tree",
    "data", "tag" (a chain longer than any peel follows), or None when it, or a
    tag's target, is not stored here."""
    kind = object_kind(repo, value)
    for _ in range(MAX_TAG_DEPTH):
        if kind != "tag":
            break
        value = repo.objects.read_tag(TagId(value)).target
        kind = object_kind(repo, value)
    return kind


def object_kind(repo: Repository, object_id: bytes) -> str | None:
    """What is stored under ``object_id``: "commit", "tag" or "tree" (one that decodes
    as such), "data" for anything else (a file's block or manifest), None for nothing.
    File content is never read whole: an object spanning a manifest is at most
    ``MAX_OBJECT_BYTES``."""
    block_id = BlockId(object_id)
    if not repo.blocks.has(block_id):
        return None
    try:
        first = repo.blocks.get(block_id)
        if is_node(first) and decode_node(first).size > MAX_OBJECT_BYTES:
            return "data"
        kind = object_tag(repo.objects.read_object_bytes(object_id))
        if kind == "commit":
            repo.objects.read_commit(CommitId(object_id))
        elif kind == "tag":
            repo.objects.read_tag(TagId(object_id))
        elif kind == "tree":
            repo.objects.read_tree(TreeId(object_id))
        else:
            return "data"
    except IntegrityError:
        return "data"
    return kind
