"""Graph walks of negotiation: exponentially spaced haves, and the ids a peer lacks.

``missing_ids(objects, wants, haves)`` lists every block reachable from ``wants`` and
not from ``haves``: new commits (found by painting the commit graph in ``sequence``
order, as git's ``paint_down``), then for each new commit the trees, manifest nodes
and data blocks that differ from its parents' (a diff walk: a one-block edit of a
1 GiB file lists one block and one node per manifest level plus their siblings, not
the file's 262 144 blocks). The same walk run on the receiving side after a transfer
is the closure check: it reads (and so re-hashes and decodes: ``Tree.decode``
validates names) every structural object and returns the leaves to test for presence.

A want is a ref's value, which should peel to a commit. One that does not (a branch
at a tree: a ref edited by hand, or a hostile peer's) fails the walk, unless the
caller lets it be ``loose``: then only its own object is listed (a tree's blocks, or
the first block of file data), never what it reaches, so that the receiver can read
its kind and refuse that ref alone while the others move.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterable, Iterator, Sequence

from cofd.objects.encoding import MAX_OBJECT_BYTES, object_tag
from cofd.objects.model import CommitId, Kind, Tag, Tree, TreeEntry, TreeId
from cofd.objects.odb import ObjectStore
from cofd.objects.refs import Refs
from cofd.store.ids import BlockId, to_hex
from cofd.store.manifest import MAX_LEVEL, Node, decode_node, is_node
from cofd.sync.recent import RecentIds
from protocol.errors import IntegrityError

MAX_HAVES = 256  # as protocol.peer.limits.MAX_HAVES
MAX_TAG_DEPTH = 8  # tags of tags, bounded as ObjectStore.peel bounds them
_WANT, _HAVE = 1, 2
MAX_SPACING = 1 << 16  # first-parent distance beyond which no more haves are picked
# Ids a walk remembers having listed (RecentIds, 3 to 6 MiB): 2^15 at least, i.e.
# 128 MiB of 4 KiB blocks between two mentions of a block for it to be listed once;
# repeats farther apart are listed again and dropped by the receiver, whose memory of
# what it fetched is larger (transfer.KNOWN_CAPACITY). A serving daemon holds one walk
# per session listing (up to limits.MAX_SESSIONS), so this is kept small.
SEEN_CAPACITY = 1 << 16


def spaced_haves(
    objects: ObjectStore, tips: Iterable[bytes], limit: int = MAX_HAVES
) -> list[bytes]:
    """Commits at first-parent distances 0, 1, 2, 4, 8, ... from each tip, deduplicated."""
    out: dict[bytes, None] = {}
    for tip in tips:
        try:
            commit_id: CommitId | None = objects.peel(tip)
        except IntegrityError:
            continue
        distance, pick = 0, 0
        while commit_id is not None and len(out) < limit and pick <= MAX_SPACING:
            try:
                parents = objects.read_commit(commit_id).parents
            except IntegrityError:
                break  # a ref naming no commit (a tree, written by hand): not a have
            if distance == pick:
                out.setdefault(commit_id)
                pick = max(1, pick * 2)
            commit_id = parents[0] if parents else None
            distance += 1
    return list(out)[:limit]


class MissingWalk:
    """Streams the blocks reachable from wants but not from haves (see module docstring).

    Every structural object is read through the verifying store, and manifest nodes
    are checked against their parent (size and level), so the walk doubles as the
    closure check of a transfer.

    Memory stays bounded whatever the size of what is listed: ids are yielded as the
    walk finds them, and the ids already listed are remembered in a :class:`RecentIds`
    of ``seen_capacity``. An id listed long enough ago to be forgotten is listed again
    (a subtree reached twice is walked twice); receivers drop ids they already hold.
    The commits to list are painted first (memory per commit, not per block).
    """

    def __init__(self, objects: ObjectStore, seen_capacity: int = SEEN_CAPACITY) -> None:
        self.objects = objects
        self.get = objects.blocks.get
        self.block_size = objects.block_size
        self.seen = RecentIds(seen_capacity, refresh=True)
        self.new_commits: list[CommitId] = []
        self.max_sequence = 0  # of the new commits, once the walk has run to its end
        self.not_commits: list[bytes] = []  # loose wants that name no commit

    def run(
        self, wants: Iterable[bytes], haves: Iterable[bytes], loose: Container[bytes] = ()
    ) -> list[BlockId]:
        """The whole listing at once (tests, small walks)."""
        return list(self.iter(wants, haves, loose))

    def iter(
        self, wants: Iterable[bytes], haves: Iterable[bytes], loose: Container[bytes] = ()
    ) -> Iterator[BlockId]:
        """The listing, streamed. A want in ``loose`` may name something else than a
        commit (or a tag of one): it is then put in ``not_commits`` and its own object
        alone is listed, at the end; any other want must lead to a commit."""
        emitted: list[BlockId] = []
        commits: list[CommitId] = []
        others: list[tuple[bytes, str | None]] = []  # (object, kind) ending a loose want
        for want in wants:
            peeled = self._peel_emitting(want, emitted, others if want in loose else None)
            if peeled is not None:
                commits.append(peeled)
            else:
                self.not_commits.append(want)
        yield from emitted
        known_haves = [h for h in haves if self.objects.blocks.has(BlockId(h))]
        have_commits = []
        for h in known_haves:
            try:
                have_commits.append(self.objects.peel(h))
            except IntegrityError:
                continue
        self.new_commits = self._paint(commits, have_commits)
        for commit_id in self.new_commits:
            yield from self._object(commit_id)
        for commit_id in self.new_commits:
            commit = self.objects.read_commit(commit_id)
            self.max_sequence = max(self.max_sequence, commit.sequence)
            bases = [self.objects.read_commit(p).tree for p in commit.parents]
            yield from self._tree(commit.tree, bases)
        # Last, so that a tree listed alone here is never taken for one already walked
        # (``_tree`` skips what ``seen`` holds): a commit reaching it walked it above.
        for object_id, kind in others:
            if kind == "tree":
                yield from self._object(object_id)
            elif self._new(object_id):
                yield BlockId(object_id)  # file data: its first block tells what it is

    # -- commits ------------------------------------------------------------------

    def _peel_emitting(
        self,
        object_id: bytes,
        out: list[BlockId],
        others: list[tuple[bytes, str | None]] | None,
    ) -> CommitId | None:
        """Collect tag objects on the way from a ref value to its commit. A loose want
        (``others`` given) that ends at something else is added to ``others``: None."""
        for _ in range(MAX_TAG_DEPTH):
            kind, data = self._kind(object_id, others is not None)
            if kind == "tag":
                out.extend(self._object(object_id))
                object_id = Tag.decode(data, f"tag {to_hex(object_id)}").target
                continue
            if kind == "commit" or others is None:
                return CommitId(object_id)  # not a commit: ``_paint`` refuses it
            others.append((object_id, kind))
            return None
        raise IntegrityError(f"tag chain at {to_hex(object_id)} is too long")

    def _kind(self, object_id: bytes, loose: bool) -> tuple[str | None, bytes]:
        """The type tag of a stored object and its encoding; None for file data, which
        is never read whole when larger than any object. Its first block must be here;
        a loose want's object whose other blocks are not (a receiver holds only the
        first block of file data) is file data too."""
        first = self.get(BlockId(object_id))
        if not is_node(first):
            return object_tag(first), first
        if decode_node(first, f"object {to_hex(object_id)}").size > MAX_OBJECT_BYTES:
            return None, b""
        try:
            data = self.objects.read_object_bytes(object_id)
        except IntegrityError:
            if not loose:
                raise
            return None, b""
        return object_tag(data), data

    def _paint(self, wants: list[CommitId], haves: list[CommitId]) -> list[CommitId]:
        """New commits in increasing ``sequence`` order (parents before children)."""
        state: dict[bytes, int] = {}
        heap: list[tuple[int, bytes]] = []
        pending = 0  # entries in the heap still flagged WANT

        def push(commit_id: bytes, flag: int) -> None:
            nonlocal pending
            try:
                commit = self.objects.read_commit(CommitId(commit_id))
            except IntegrityError:
                if flag == _WANT:
                    raise
                return  # a have we hold only partly (an interrupted fetch): ignore it
            state[commit_id] = flag
            heapq.heappush(heap, (-commit.sequence, commit_id))
            pending += flag == _WANT

        for h in haves:
            if h not in state:
                push(h, _HAVE)
        for w in wants:
            if w not in state:
                push(w, _WANT)
        new: list[CommitId] = []
        while heap and pending:
            _, commit_id = heapq.heappop(heap)
            flag = state[commit_id]
            if flag == _WANT:
                pending -= 1
                new.append(CommitId(commit_id))
            commit = self.objects.read_commit(CommitId(commit_id))  # cached by push()
            for parent in commit.parents:
                seen = state.get(parent)
                if seen is None:
                    push(parent, flag)
                elif flag == _HAVE and seen == _WANT:
                    state[parent] = _HAVE
                    pending -= 1
        new.reverse()
        return new

    # -- objects, trees, contents ---------------------------------------------------

    def _new(self, block_id: bytes) -> bool:
        """True the first time (as far as ``seen`` remembers) ``block_id`` comes up."""
        if block_id in self.seen:
            return False
        self.seen.add(block_id)
        return True

    def _object(self, object_id: bytes) -> Iterator[BlockId]:
        """A commit, tree or tag: its block, and its manifest if it spans several."""
        if object_id in self.seen:
            return
        first = self.get(BlockId(object_id))
        if not is_node(first):
            self.seen.add(object_id)
            yield BlockId(object_id)
            return
        node = decode_node(first, f"object {to_hex(object_id)}")
        yield from self._content(BlockId(object_id), node.size, [])

    def _tree(self, tree_id: TreeId, bases: list[TreeId]) -> Iterator[BlockId]:
        if tree_id in self.seen or tree_id in bases:
            return
        yield from self._object(tree_id)
        tree = self.objects.read_tree(tree_id)
        base_maps = [_by_name(self.objects.read_tree(b)) for b in bases if b != tree_id]
        for entry in tree.entries:
            olds = [m[entry.name] for m in base_maps if entry.name in m]
            if any(old.id == entry.id and old.kind == entry.kind for old in olds):
                continue
            if entry.kind == Kind.DIR:
                dirs = [TreeId(o.id) for o in olds if o.kind == Kind.DIR]
                yield from self._tree(TreeId(entry.id), dirs)
            else:
                old_contents = [(o.id, o.size) for o in olds if o.kind != Kind.DIR]
                yield from self._content(entry.id, entry.size, old_contents)

    def _content(
        self, content_id: bytes, size: int, bases: Sequence[tuple[bytes, int]]
    ) -> Iterator[BlockId]:
        if size <= self.block_size:
            if self._new(content_id):
                yield BlockId(content_id)
            return
        base_nodes = [self._node(b, s, MAX_LEVEL + 1) for b, s in bases if s > self.block_size]
        yield from self._diff_node(content_id, size, MAX_LEVEL + 1, base_nodes)

    def _node(self, node_id: bytes, size: int, parent_level: int) -> Node:
        node = decode_node(self.get(BlockId(node_id)), f"manifest node {to_hex(node_id)}")
        if node.size != size or node.level >= parent_level or not node.children:
            raise IntegrityError(f"manifest node {to_hex(node_id)} does not match its parent")
        return node

    def _diff_node(
        self, node_id: bytes, size: int, parent_level: int, bases: list[Node]
    ) -> Iterator[BlockId]:
        if not self._new(node_id):
            return
        yield BlockId(node_id)
        node = self._node(node_id, size, parent_level)
        same_level = [b for b in bases if b.level == node.level]
        old_children = {cid for b in same_level for cid, _ in b.children}
        seen = self.seen
        if node.level == 1:  # the leaves: the bulk of every listing, kept tight
            for child, _ in node.children:
                if child not in old_children and child not in seen:
                    seen.add(child)
                    yield BlockId(child)
            return
        for index, (child, child_size) in enumerate(node.children):
            if child in old_children or child in seen:
                continue
            counterparts = [
                self._node(b.children[index][0], b.children[index][1], b.level)
                for b in same_level
                if index < len(b.children)
            ]
            yield from self._diff_node(child, child_size, node.level, counterparts)


def _by_name(tree: Tree) -> dict[str, TreeEntry]:
    return {e.name: e for e in tree.entries}


def missing_ids(
    objects: ObjectStore, wants: Iterable[bytes], haves: Iterable[bytes]
) -> list[BlockId]:
    """Blocks reachable from ``wants`` and not from ``haves`` (unknown haves ignored)."""
    return MissingWalk(objects).run(wants, haves)


def ref_tips(refs: Refs) -> Iterator[bytes]:
    """Every ref value (branches, remote-tracking branches, tags) of a repository."""
    for _, value in refs.iter_refs("refs/"):
        yield value
