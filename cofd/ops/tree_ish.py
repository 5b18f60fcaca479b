"""Tree-ish arguments (``ls-tree``, ``archive``): what git accepts where a tree is read.

A tree-ish is a revision (its commit's tree; a tag is peeled to its commit), a
revision's tree (``REV^{tree}``), a directory in one (``REV:PATH``, split at the first
colon: revisions hold none, so ``HEAD:a:b`` is the path ``a:b``, as in git), or a tree's
id (a unique prefix of at least four digits, as ``ls-tree`` prints it). Whether it came
from a commit matters to ``archive``: git stamps the commit's id and time only then.
"""

from __future__ import annotations

import re

from cofd.objects.model import CommitId, Kind, TreeId
from cofd.ops.api import OpContext
from cofd.ops.repository import Repository
from cofd.ops.rev_parse import object_named
from cofd.ops.revisions import MIN_PREFIX, ids_with_prefix
from cofd.ops.show_blob import named_entry, split_object_name
from cofd.store.ids import ID_LEN
from protocol.errors import RevisionError

_HEX = re.compile(r"^[0-9a-fA-F]+$")
# Ids tried for a tree's id prefix: each costs a block read, and a prefix this
# ambiguous among all stored blocks names no one tree anyway.
_PREFIX_CANDIDATES = 64


def tree_named(ctx: OpContext, repo: Repository, spec: str) -> tuple[TreeId, CommitId | None]:
    """The tree ``spec`` names and the commit it is the tree of (None when a tree was
    named directly), or ``RevisionError``/``PathError`` saying why there is none."""
    if split_object_name(spec) is not None:
        entry = named_entry(ctx, repo, spec)
        if entry.kind != Kind.DIR:
            raise RevisionError(f"not a tree object: '{spec}'")
        return TreeId(entry.id), None
    try:
        found = object_named(repo, spec)
    except RevisionError:
        tree = _tree_with_prefix(repo, spec)
        if tree is None:
            raise
        return tree, None
    if repo.objects.kind_of(found) == "tree":  # REV^{tree}
        return TreeId(found), None
    commit = repo.objects.peel(found)
    return repo.objects.read_commit(commit).tree, commit


def _tree_with_prefix(repo: Repository, text: str) -> TreeId | None:
    """The one stored tree whose id starts with ``text``, if exactly one does."""
    if not MIN_PREFIX <= len(text) <= ID_LEN * 2 or not _HEX.match(text):
        return None
    found = ids_with_prefix(repo, text.lower(), limit=_PREFIX_CANDIDATES)
    trees = [i for i in found if repo.objects.kind_of(i) == "tree"]
    return TreeId(trees[0]) if len(trees) == 1 else None
