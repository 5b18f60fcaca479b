"""Maintenance operations: ``migrate``, ``gc`` and ``fsck``, and the reachability walk.

The walk starts from every ref (branches, tags, remotes), ``HEAD``, every commit
named in a reflog (old and new side), ``MERGE_HEAD`` (and ``CHERRY_PICK_HEAD``,
``REVERT_HEAD``, ``sequencer/``) and the staging area, and
visits commits, trees, manifest nodes and data blocks. A root may name an annotated
tag rather than a commit (a tag ref, its reflog, a pushed tag): the tag object is
marked (its blocks are live) and its target followed, tags of tags up to
``MAX_TAG_DEPTH`` deep, down to the commit. As in git, a ref (or a tag) may also name
a tree or file data (a ref written by hand): that is marked too, and only fsck
complains, of a branch naming anything but a commit. Visited ids go into a
``LiveSet`` (a temporary SQLite table); a content id or manifest node already in it
is not descended into again, since identical ids name identical subtrees.

The migration loop itself (when to run) lives in the daemon; what one pass does is
:func:`migrate_pass`, also what ``cof migrate`` runs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cofd.config import Config
from cofd.objects.encoding import MAX_OBJECT_BYTES, object_tag
from cofd.objects.model import CommitId, Kind, TagId, TreeId
from cofd.objects.refs import HEAD
from cofd.ops import sequencer
from cofd.ops.api import OpContext, op
from cofd.ops.commit import PICK_STATE_FILES
from cofd.ops.reflogs import ExpiryPolicy, expire_reflogs
from cofd.ops.repository import Repository
from cofd.store.fsck import check_packs, rebuild_index
from cofd.store.gc import LiveSet, sweep
from cofd.store.ids import BlockId, to_hex
from cofd.store.manifest import decode_node, is_node, walk_nodes
from cofd.store.rewrite import Migrator, RewriteResult, compact
from cofd.store.tiers import TierPolicy
from cofd.sync.walk import MAX_TAG_DEPTH
from protocol.errors import IntegrityError, UsageError

log = logging.getLogger(__name__)

# Blocks checked for presence per index query during fsck's walk.
CHECK_BATCH = 512
# gc compacts a pack once this share of it is dead (migration waits for half).
GC_DEAD_FRACTION = 0.1
# auto gc: worth a mark phase only after the store grew by this share since the
# last gc, and by at least gc.auto_gc_min_new_blocks (garbage only comes from new
# writes).
AUTO_GC_GROWTH = 0.5
SECONDS_PER_DAY = 86400


def policy_of(config: Config) -> TierPolicy:
    c = config.compression
    return TierPolicy(c.warm_threshold, c.cold_threshold, c.warm_level, c.cold_level)


def head_generation(repo: Repository) -> int:
    """The highest generation among the branch heads and a detached HEAD (0: none).

    Ages are measured against the most advanced branch, so a block's age never
    goes down when another branch is checked out (see docs/tiers.md).
    """
    heads = [commit for _, commit in repo.refs.iter_refs("refs/heads/")]
    head = repo.refs.head()
    if head is not None:
        heads.append(head)
    best = 0
    for commit in heads:
        with contextlib.suppress(IntegrityError):
            best = max(best, repo.objects.read_commit(commit).sequence)
    return best


# -- the reachability walk ----------------------------------------------------------


def root_commits(repo: Repository) -> list[tuple[str, CommitId]]:
    """Every object a ref, HEAD, a reflog or MERGE_HEAD (CHERRY_PICK_HEAD, REVERT_HEAD)
    names, with where it was found.

    Mostly commits, but a tag ref (and its reflog, or a push of it being received)
    names an annotated tag object: :meth:`Walker.all_commits` peels those.
    """
    found: list[tuple[str, CommitId]] = list(repo.refs.iter_refs("refs/"))
    head = repo.refs.head()
    if head is not None:
        found.append((HEAD, head))
    logs = repo.cof_dir / "logs"
    if logs.is_dir():
        for path in sorted(p for p in logs.rglob("*") if p.is_file()):
            name = path.relative_to(logs).as_posix()
            for entry in repo.refs.reflog(name):
                for commit in (entry.old, entry.new):
                    if commit is not None:
                        found.append((f"reflog of {name}", commit))
    found += [("a push being received", commit) for commit in list(repo.gc_pins)]
    # What a stopped merge, cherry-pick or revert will commit from.
    for name in ("MERGE_HEAD", *PICK_STATE_FILES):
        path = repo.cof_dir / name
        if path.exists():
            for line in path.read_text().split():
                with contextlib.suppress(ValueError):
                    found.append((name, CommitId(bytes.fromhex(line))))
    found += sequencer.named_commits(repo)  # a stopped series: its todo and start
    return found


ProblemFn = Callable[[str], None]
LeavesFn = Callable[[list[BlockId], str], None]


class Walker:
    """Marks everything reachable into ``live``; problems go to ``on_problem``.

    Without ``on_problem`` the first problem raises (gc must never sweep on the
    basis of an incomplete mark). ``on_leaves`` sees data block ids (fsck checks
    them); ``on_commit`` each reachable commit with the blocks it newly reached.
    """

    def __init__(
        self,
        repo: Repository,
        live: LiveSet,
        on_problem: ProblemFn | None = None,
        on_leaves: LeavesFn | None = None,
    ) -> None:
        self.repo = repo
        self.live = live
        self.on_problem = on_problem
        self.on_leaves = on_leaves
        self.block_size = repo.blocks.block_size
        self.commits = 0
        self.tags = 0
        self.trees = 0
        # Each annotated tag reached: tag id -> the id it points at (a commit, or a tag).
        self.tag_targets: dict[bytes, bytes] = {}
        # Each tree or file data a ref or a tag names (not a commit): id -> its kind.
        self.not_commits: dict[bytes, str] = {}
        self._tag_depth: dict[bytes, int] = {}  # the most tags it was reached through
        self.contents = 0
        self._seen_trees: set[TreeId] = set()

    def problem(self, message: str) -> None:
        if self.on_problem is None:
            raise IntegrityError(message)
        self.on_problem(message)

    def all_commits(self, roots: list[tuple[str, CommitId]]) -> Iterator[tuple[CommitId, int]]:
        """Reachable commits (id, generation), each once; their object blocks marked.

        A root may name an annotated tag: its object is marked and its target
        followed (tags of tags, at most ``MAX_TAG_DEPTH``). A root or a tag's target
        may also be a tree (marked with what it reaches) or file data (marked), as git
        lets a ref name any object; a parent must be a commit.
        """
        seen: set[bytes] = set()
        # (where it was found, id, tags followed to reach it; None: must be a commit)
        stack: list[tuple[str, bytes, int | None]] = [(w, c, 0) for w, c in reversed(roots)]
        while stack:
            where, object_id, depth = stack.pop()
            if object_id in seen:
                if depth is not None and depth > self._tag_depth.get(object_id, depth):
                    # A tag reached again, through more tags than before.
                    self._tag_depth[object_id] = depth
                    self._check_chain(where, object_id, depth + self._tags_from(object_id))
                continue
            seen.add(object_id)
            commit_id = CommitId(object_id)
            try:
                self.mark_object(object_id, f"commit {to_hex(object_id)}")
                commit = self.repo.objects.read_commit(commit_id)
            except IntegrityError as exc:
                kind = self._stored_kind(object_id) if depth is not None else None
                if kind == "tag":
                    stack.extend(self._follow_tag(where, object_id, depth or 0))
                elif kind in ("tree", "data"):
                    self._mark_not_commit(where, object_id, kind)
                else:
                    self.problem(f"commit {to_hex(object_id)} (from {where}): {exc}")
                continue
            self.commits += 1
            yield commit_id, commit.sequence
            stack.extend((f"parent of {to_hex(object_id)[:12]}", p, None) for p in commit.parents)

    def _stored_kind(self, object_id: bytes) -> str | None:
        """What a ref value that is no readable commit names: "tag", "tree", "commit"
        (a damaged one), "data" (file content, never read whole when larger than any
        object), or None when it is not (wholly) stored."""
        try:
            first = self.repo.blocks.get(BlockId(object_id))
            if is_node(first) and decode_node(first).size > MAX_OBJECT_BYTES:
                return "data"
            kind = object_tag(self.repo.objects.read_object_bytes(object_id))
        except IntegrityError:
            return None
        return kind if kind in ("tag", "tree", "commit") else "data"

    def _mark_not_commit(self, where: str, object_id: bytes, kind: str) -> None:
        """A tree or file data a ref or tag names: live, with all it reaches
        (``all_commits`` marked its own blocks already)."""
        self.not_commits[object_id] = kind
        if kind == "tree":
            self.mark_tree(TreeId(object_id), "", f"the tree named by {where}")

    def _follow_tag(
        self, where: str, tag_id: bytes, depth: int
    ) -> list[tuple[str, bytes, int | None]]:
        """Mark an annotated tag object; what to walk next (its target), if anything."""
        name = f"tag {to_hex(tag_id)}"
        try:
            tag = self.repo.objects.read_tag(TagId(tag_id))
        except IntegrityError as exc:
            self.problem(f"{name} (from {where}): {exc}")
            return []
        self.tags += 1
        self.tag_targets[tag_id] = tag.target
        self._tag_depth[tag_id] = depth
        if not self._check_chain(where, tag_id, depth + 1):
            return []
        return [(f"{name} ('{tag.name}', from {where})", tag.target, depth + 1)]

    def _tags_from(self, tag_id: bytes) -> int:
        """How many tags (this one included) lead from ``tag_id`` down to its commit."""
        count = 0
        object_id = tag_id
        while object_id in self.tag_targets and count <= MAX_TAG_DEPTH:
            count += 1
            object_id = self.tag_targets[object_id]
        return count

    def _check_chain(self, where: str, tag_id: bytes, tags: int) -> bool:
        """Whether a ref value reaching ``tag_id`` through ``tags`` tags in all (counting
        it) still peels as :meth:`ObjectStore.peel` does (fewer than MAX_TAG_DEPTH)."""
        if tags < MAX_TAG_DEPTH:
            return True
        self.problem(
            f"tag {to_hex(tag_id)} (from {where}): tag chain too long "
            f"(more than {MAX_TAG_DEPTH - 1} tags)"
        )
        return False

    def mark_commit_tree(self, commit_id: CommitId) -> None:
        commit = self.repo.objects.read_commit(commit_id)
        self.mark_tree(commit.tree, "", f"commit {to_hex(commit_id)[:12]}")

    def mark_tree(self, tree_id: TreeId, prefix: str, within: str) -> None:
        stack = [(tree_id, prefix)]
        while stack:
            tid, path = stack.pop()
            if tid in self._seen_trees:
                continue
            self._seen_trees.add(tid)
            where = f"tree {to_hex(tid)} ('{path or '/'}' in {within})"
            try:
                self.mark_object(tid, where)
                tree = self.repo.objects.read_tree(tid)
            except IntegrityError as exc:
                self.problem(f"{where}: {exc}")
                continue
            self.trees += 1
            for entry in tree.entries:
                name = path + entry.name
                if entry.kind == Kind.DIR:
                    stack.append((TreeId(entry.id), name + "/"))
                else:
                    self.mark_content(entry.id, entry.size, f"'{name}' in {within}")

    def mark_object(self, object_id: bytes, where: str) -> None:
        """Mark a commit or tree encoding (one block, or a manifest of blocks)."""
        block_id = BlockId(object_id)
        if block_id in self.live:
            return
        first = self.repo.blocks.get(block_id)
        size = decode_node(first, where).size if is_node(first) else len(first)
        self.mark_content(block_id, size, where)

    def mark_content(self, content_id: BlockId, size: int, where: str) -> None:
        if not self.live.add(content_id):
            return
        self.contents += 1
        if size <= self.block_size:
            self._leaves([content_id], where)
            return
        try:
            for _node_id, node in walk_nodes(
                self.repo.blocks.get, content_id, size, skip=self._seen_node
            ):
                if node.level == 1:
                    leaves = [cid for cid, _ in node.children]
                    self.live.add_many(leaves)
                    self._leaves(leaves, where)
        except IntegrityError as exc:
            self.problem(f"{where}: content {to_hex(content_id)}: {exc}")

    def _seen_node(self, node_id: BlockId) -> bool:
        return not self.live.add(node_id)

    def _leaves(self, ids: list[BlockId], where: str) -> None:
        if self.on_leaves is not None:
            self.on_leaves(ids, where)

    def run(self) -> None:
        for commit_id, _ in self.all_commits(root_commits(self.repo)):
            try:
                self.mark_commit_tree(commit_id)
            except IntegrityError as exc:
                self.problem(f"commit {to_hex(commit_id)}: {exc}")
        self.mark_staging()

    def mark_staging(self) -> None:
        try:
            state = self.repo.load_state()
        except (IntegrityError, ValueError, OSError) as exc:
            self.problem(f"staging area: cannot be read: {exc}")
            return
        for entry in state.entries.values():
            self.mark_content(entry.id, entry.size, f"staged '{entry.path}'")


# -- migration ----------------------------------------------------------------------


def migrate_pass(
    repo: Repository,
    config: Config,
    pause: Callable[[], None] | None = None,
    threads: int = 2,
    nice: int = 0,
    full: bool = False,
) -> RewriteResult:
    """One migration pass: move what is due, then compact packs left mostly dead.

    ``nice`` > 0 lowers the priority of the compression threads (background passes).
    ``full`` scans every block for due ones (``cof migrate --wait``); otherwise the
    index is scanned only when ages crossed a threshold since the last pass. Packs
    are examined for compaction only after blocks moved out of them, or on the first
    pass since the store was opened (moves of an interrupted pass): records die by
    migration or by gc, and gc compacts what it sweeps itself.
    """
    state = repo.blocks.maintenance
    policy = policy_of(config)
    progress = state.progress
    progress.state = "planning"
    head = head_generation(repo)
    result = RewriteResult()
    try:
        progress.state = "migrating"
        migrator = Migrator(repo.blocks, policy, threads, pause, lock=state.lock, nice=nice)
        migrator.run(head, result, full=full)
        if result.moved_blocks or not state.compaction_checked or full:
            progress.state = "compacting"
            compact(repo.blocks, policy.cold_level, pause=pause, result=result, lock=state.lock)
            state.compaction_checked = True
    finally:
        progress.state = "idle"
        progress.runs += 1
        progress.moved_blocks += result.moved_blocks
        progress.moved_raw_bytes += result.moved_raw_bytes
        progress.moved_stored_bytes += result.moved_stored_bytes
        progress.compacted_packs += result.compacted_packs + result.deleted_packs
        progress.skipped_blocks = len(result.skipped)
        progress.last_error = result.skipped[-1] if result.skipped else None
        # Nothing is left below the lines unless blocks could not be read (skipped):
        # only then is counting them worth a scan of the index.
        progress.pending_blocks = pending_blocks(repo, policy, head) if result.skipped else 0
        progress.last_run = time.time()
    return result


def pending_blocks(repo: Repository, policy: TierPolicy, head: int | None = None) -> int:
    head = head_generation(repo) if head is None else head
    counts = repo.blocks.index.count_movable(head, policy.warm_threshold, policy.cold_threshold)
    return sum(count for count, _, _ in counts.values())


def migrate_until_done(
    repo: Repository, config: Config, progress: Callable[[dict[str, Any]], None]
) -> RewriteResult:
    """Passes until one moves nothing (commits made meanwhile may add work)."""
    total = RewriteResult()
    state = repo.blocks.maintenance
    with state.pass_lock:
        while True:
            result = migrate_pass(repo, config, full=True)
            for name in (
                "moved_blocks",
                "moved_raw_bytes",
                "moved_stored_bytes",
                "compacted_packs",
                "deleted_packs",
                "reclaimed_bytes",
            ):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            total.skipped += result.skipped
            progress({"phase": "migrating", "done": total.moved_blocks, "unit": "blocks"})
            if result.moved_blocks == 0:
                return total


def _result_dict(result: RewriteResult) -> dict[str, Any]:
    return {
        "moved_blocks": result.moved_blocks,
        "moved_raw_bytes": result.moved_raw_bytes,
        "moved_stored_bytes": result.moved_stored_bytes,
        "compacted_packs": result.compacted_packs,
        "deleted_packs": result.deleted_packs,
        "reclaimed_bytes": result.reclaimed_bytes,
        "skipped": result.skipped[:20],
    }


@op("migrate", writes=False)
def migrate(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    config = ctx.config()
    if not params.get("wait") and repo.blocks.maintenance.wake():
        return {"started": True, "pending_blocks": pending_blocks(repo, policy_of(config))}
    result = migrate_until_done(repo, config, ctx.progress)
    return {
        "started": True,
        "waited": True,
        **_result_dict(result),
        "pending_blocks": pending_blocks(repo, policy_of(config)),
    }


# -- gc -----------------------------------------------------------------------------


def parse_prune(value: object, config: Config) -> float | None:
    """``--prune`` to a cutoff: None prunes everything unreachable now."""
    if value is None:
        days: float = config.gc.unreachable_days
    elif value == "now":
        return None
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        days = value
    else:
        raise UsageError(f"--prune expects a number of days or 'now', got {value!r}")
    return time.time() - days * SECONDS_PER_DAY


@dataclass(frozen=True, slots=True)
class GcResult:
    live_blocks: int
    deleted_blocks: int
    deleted_raw_bytes: int
    kept_young_blocks: int
    rewrite: RewriteResult
    expired_reflog_entries: int


def collect_garbage(repo: Repository, cutoff: float | None, config: Config) -> GcResult:
    """Expire reflog entries, mark from every root, sweep, compact. The caller holds
    the repository's locks exclusively (as :meth:`OpenRepository.pruning`)."""
    expired = expire_reflogs(repo, ExpiryPolicy.from_config(config, time.time()), None)
    state = repo.blocks.maintenance
    live = LiveSet(repo.blocks)
    try:
        Walker(repo, live).run()  # raises on any missing or corrupt object
        live_count = len(live)
        previous = state.progress.state
        state.progress.state = "gc"
        try:
            with state.lock:
                swept = sweep(repo.blocks, live, cutoff)
                rewrite = compact(
                    repo.blocks,
                    policy_of(config).cold_level,
                    dead_fraction=GC_DEAD_FRACTION,
                    min_dead_bytes=1,
                )
        finally:
            state.progress.state = previous
    finally:
        live.close()
    _record_gc(repo)
    return GcResult(
        live_count,
        swept.deleted_blocks,
        swept.deleted_raw_bytes,
        swept.kept_young_blocks,
        rewrite,
        expired.total,
    )


def _record_gc(repo: Repository) -> None:
    repo.blocks.index.reset_blocks_added(repo.blocks.stats().blocks)


def auto_gc_due(repo: Repository, config: Config) -> bool:
    """Whether enough has been written since the last gc for auto gc to run."""
    if not config.gc.auto_gc:
        return False
    row = repo.blocks.index.conn.execute(
        "SELECT value FROM meta WHERE key = 'blocks_at_last_gc'"
    ).fetchone()
    if row is None:
        # First time: remember the size, so auto gc begins after the next growth.
        _record_gc(repo)
        return False
    before = int(row[0])
    grown = repo.blocks.index.blocks_added()
    enough = config.gc.auto_gc_min_new_blocks
    return grown >= enough and grown >= AUTO_GC_GROWTH * max(before, 1)


@op("gc", writes=True, prunes=True)
def gc(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    config = ctx.config()
    cutoff = parse_prune(params.get("prune"), config)
    before = repo.blocks.stats().stored_bytes
    result = collect_garbage(repo, cutoff, config)
    return {
        "live_blocks": result.live_blocks,
        "deleted_blocks": result.deleted_blocks,
        "deleted_raw_bytes": result.deleted_raw_bytes,
        "kept_young_blocks": result.kept_young_blocks,
        "expired_reflog_entries": result.expired_reflog_entries,
        **_result_dict(result.rewrite),
        "stored_bytes_before": before,
        "stored_bytes_after": repo.blocks.stats().stored_bytes,
    }


# -- fsck ---------------------------------------------------------------------------


def branches_not_at_commits(repo: Repository, walker: Walker) -> list[str]:
    """git fsck's "not a commit": a branch (or a detached HEAD) naming a tag object,
    a tree or file data, which the walk found (a tag may name any of them)."""
    named = list(repo.refs.iter_refs("refs/heads/"))
    if repo.refs.head_target() is None and (head := repo.refs.head()) is not None:
        named.append((HEAD, head))
    return [
        f"{name}: not a commit"
        for name, value in named
        if value in walker.not_commits or value in walker.tag_targets
    ]


def check_repository(repo: Repository, full: bool) -> dict[str, Any]:
    """Everything ``cof fsck`` reports; ``problems`` empty means the repository is sound."""
    problems: list[str] = []
    with repo.blocks.maintenance.lock:
        packs = check_packs(repo.blocks, full)
    problems += packs.problems
    corrupt = packs.corrupt

    def check_leaves(ids: list[BlockId], where: str) -> None:
        for start in range(0, len(ids), CHECK_BATCH):
            batch = ids[start : start + CHECK_BATCH]
            present = repo.blocks.existing(batch)
            for block_id in batch:
                if block_id not in present:
                    problems.append(f"{where}: block {to_hex(block_id)} is missing")
                elif block_id in corrupt:
                    problems.append(f"{where}: block {to_hex(block_id)} is corrupt")

    live = LiveSet(repo.blocks)
    try:
        walker = Walker(repo, live, problems.append, check_leaves)
        walker.run()
        reachable = len(live)
    finally:
        live.close()
    problems += branches_not_at_commits(repo, walker)
    return {
        "ok": not problems,
        "full": full,
        "problems": problems[:1000],
        "problem_count": len(problems),
        "commits": walker.commits,
        "tags": walker.tags,
        "trees": walker.trees,
        "contents": walker.contents,
        "reachable_blocks": reachable,
        "packs": packs.packs,
        "records": packs.records,
        "blocks_rehashed": packs.blocks_checked,
        "unreferenced_bytes": packs.unreferenced_bytes,
        "orphan_files": packs.orphan_files,
    }


def restore_commit_ages(repo: Repository) -> int:
    """Give blocks without a ``commit_age`` the generation of the first commit using them.

    Commits are visited in generation order; the blocks each one reaches first
    (the live table's rows added while marking it) get its generation. An annotated
    tag's blocks get the generation of the commit it peels to.
    """
    conn = repo.blocks.index.conn
    before = conn.execute("SELECT COUNT(*) FROM commit_age").fetchone()[0]
    live = LiveSet(repo.blocks)
    try:
        walker = Walker(repo, live, on_problem=lambda _: None)
        commits = sorted(walker.all_commits(root_commits(repo)), key=lambda c: c[1])
        tag_targets = walker.tag_targets
    finally:
        live.close()
    generations: dict[bytes, int] = dict(commits)
    for tag_id in tag_targets:
        target = tag_targets[tag_id]
        for _ in range(MAX_TAG_DEPTH):
            if target not in tag_targets:
                break
            target = tag_targets[target]
        if target in generations:
            generations[tag_id] = generations[target]
    objects = [*commits, *((t, generations[t]) for t in tag_targets if t in generations)]
    live = LiveSet(repo.blocks)
    try:
        walker = Walker(repo, live, on_problem=lambda _: None)
        for object_id, sequence in objects:
            mark = live.last_rowid()
            try:
                walker.mark_object(object_id, "object")
                if object_id not in tag_targets:
                    walker.mark_commit_tree(CommitId(object_id))
            except IntegrityError:
                pass
            conn.execute(
                "INSERT OR IGNORE INTO commit_age (id, generation) SELECT l.id, ? "
                "FROM temp.gc_live l JOIN block_map b ON b.id = l.id WHERE l.rowid > ?",
                (sequence, mark),
            )
    finally:
        live.close()
    after = conn.execute("SELECT COUNT(*) FROM commit_age").fetchone()[0]
    if after != before:  # ages the floors never heard of: the next pass looks at all
        repo.blocks.index.forget_migration_floors()
    return int(after) - int(before)


@op("fsck", writes=True, prunes=True)
def fsck(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    repaired: dict[str, Any] | None = None
    if params.get("repair_index"):
        with repo.blocks.maintenance.lock:
            rebuilt = rebuild_index(repo.blocks)
        repaired = {
            "packs": rebuilt.packs,
            "blocks": rebuilt.blocks,
            "corrupt_blocks": rebuilt.corrupt_blocks,
            "truncated_packs": rebuilt.truncated_packs,
            "commit_ages_restored": restore_commit_ages(repo),
        }
    report = check_repository(repo, bool(params.get("full")))
    if repaired is not None:
        report["repaired"] = repaired
    return report
