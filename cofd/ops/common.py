"""Helpers several operations share: HEAD's flattened tree, identities, conversions."""

from __future__ import annotations

from cofd.objects.model import CommitId, Signature, TreeId, parse_author
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.api import OpContext
from cofd.ops.repository import Repository
from cofd.ops.trees import FlatEntry, flatten
from protocol.errors import UsageError


def tree_of(repo: Repository, commit: CommitId | None) -> TreeId | None:
    return None if commit is None else repo.objects.read_commit(commit).tree


def flat_tree(repo: Repository, commit: CommitId | None) -> dict[str, FlatEntry]:
    """A commit's files as a flat map; cached by tree id (trees are immutable)."""
    tree = tree_of(repo, commit)
    return {} if tree is None else flatten_cached(repo, tree)


def flatten_cached(repo: Repository, tree: TreeId) -> dict[str, FlatEntry]:
    cache = repo.flat_trees
    if tree not in cache:
        if len(cache) >= 8:
            cache.pop(next(iter(cache)))
        cache[tree] = flatten(repo.objects, tree)
    return cache[tree]


def staged_flat(state: WorktreeState) -> dict[str, FlatEntry]:
    return {p: FlatEntry(e.mode, e.id, e.size) for p, e in state.entries.items()}


def entry_from_flat(path: str, flat: FlatEntry) -> Entry:
    """A staging entry with unknown stat: the next status compares content."""
    return Entry(path, flat.mode, flat.id, flat.size, None)


def identity(ctx: OpContext, author: str | None) -> tuple[Signature, Signature]:
    """(author, committer): ``--author``, else COF_AUTHOR_* / user config."""
    config = ctx.config()
    user_name, user_email = config.user.name, config.user.email
    if author:
        parsed = parse_author(author)
        if parsed is None:
            raise UsageError(f"--author '{author}' is not 'Name <email>'")
        name, email = parsed
    else:
        name, email = user_name, user_email
    if not name:
        raise UsageError(
            "author identity unknown: run cof config --global user.name 'Your Name' and "
            "cof config --global user.email you@example.com (or pass --author 'Name <email>', "
            "or set COF_AUTHOR_NAME and COF_AUTHOR_EMAIL)"
        )
    author_sig = Repository.signature(name, email)
    committer = Repository.signature(user_name or name, user_email or email, author_sig.timestamp)
    return author_sig, committer


def reflog_signature(ctx: OpContext) -> Signature:
    """Who a ref update is logged as: the committer identity, or "cof" if none is set
    (a branch switch must not fail for want of an email address)."""
    try:
        return identity(ctx, None)[1]
    except UsageError:
        return Repository.signature("cof", "")


# Progress is reported every this many bytes, so the event stream stays cheap.
PROGRESS_STEP = 16 * 1024 * 1024


class ByteProgress:
    """Counts bytes and reports ``{phase, done, total, unit: bytes}`` every 16 MiB."""

    def __init__(self, ctx: OpContext, phase: str, total: int) -> None:
        self._ctx = ctx
        self._phase = phase
        self.total = total
        self.done = 0
        self._last = 0

    def add(self, n: int) -> None:
        self.done += n
        # A file re-read because it changed under us counts twice; keep 100% the top.
        self.total = max(self.total, self.done)
        if self.done - self._last >= PROGRESS_STEP:
            self._last = self.done
            self._ctx.progress(
                {"phase": self._phase, "done": self.done, "total": self.total, "unit": "bytes"}
            )
