"""``merge``, ``merge --abort`` and ``merge --continue``.

A merge that stops on conflicts leaves ``.cof/MERGE_HEAD`` (the other commit),
``.cof/MERGE_MSG`` (the prepared message) and ``.cof/ORIG_HEAD``; the staging area
holds the conflict stages. ``commit`` (or ``merge --continue``) records the merge
with both parents once every conflict is resolved with ``cof add``.
"""

from __future__ import annotations

import os
from typing import Any

from cofd.objects.ancestry import is_ancestor, merge_bases
from cofd.objects.model import CommitId, TreeId
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.api import OpContext, op
from cofd.ops.branches import end_merge, switch_to
from cofd.ops.commit import make_commit
from cofd.ops.common import ByteProgress, flat_tree, reflog_signature, staged_flat, tree_of
from cofd.ops.materialize import remove_entry, write_entry
from cofd.ops.merge_trees import PathMerge, TreeMerge, merge_trees
from cofd.ops.paths import check_writable
from cofd.ops.repository import Repository
from cofd.ops.reset import move_head
from cofd.ops.reset_merge import reset_merge_worktree
from cofd.ops.revisions import expand_previous, resolve
from cofd.ops.switch import (
    MAX_LISTED,
    ParentsInTheWay,
    apply,
    check,
    holds_exactly,
    loses_nothing,
    plan,
)
from cofd.ops.trees import FlatEntry, build, flatten
from cofd.ops.worktree_scan import WorktreeDiff, scan
from cofd.store.blockstore import WriteTxn
from protocol.errors import ConflictError, UsageError

DEFAULT_BRANCHES = ("main", "master")


def _virtual_base(repo: Repository, txn: WriteTxn, bases: list[CommitId]) -> TreeId | None:
    """Merge several best common ancestors into one tree (git's recursive strategy),
    in a fixed order so the result is deterministic."""
    tree = tree_of(repo, bases[0])
    for other in bases[1:]:
        inner = merge_bases(repo.objects.read_commit, bases[0], other)
        inner_tree = _virtual_base(repo, txn, inner) if inner else None
        merged = merge_trees(
            repo,
            txn,
            inner_tree,
            tree,
            tree_of(repo, other),
            ("Temporary merge branch 1", "Temporary merge branch 2"),
        )
        files = flatten(repo.objects, tree) if tree is not None else {}
        for path, m in merged.paths.items():
            value = m.worktree if m.conflict else m.result
            if value is None:
                files.pop(path, None)
            else:
                files[path] = value
        tree = build(repo.objects, txn, files)
    return tree


def staged_changes(repo: Repository, state: WorktreeState, head: CommitId) -> list[str]:
    head_files = flat_tree(repo, head)
    staged = staged_flat(state)
    return sorted(p for p in set(head_files) | set(staged) if head_files.get(p) != staged.get(p))


def check_worktree(repo: Repository, state: WorktreeState, merged: TreeMerge) -> None:
    """Refuse, in git's words, a merge result that would overwrite local changes to
    tracked files (against the staging area) or untracked files (also ``stash apply``)."""
    touched = [p for p, m in merged.paths.items() if _wanted(m) != merged.ours.get(p)]
    worktree = scan(repo, state, touched) if touched else WorktreeDiff()
    dirty = {
        p for p in touched if not loses_nothing(repo.root, worktree, p, _wanted(merged.paths[p]))
    }
    in_way = {
        p
        for p in touched
        if merged.ours.get(p) is None
        and p not in state.entries
        and _untracked_in_way(repo, p, merged)
    }
    leaving = {p for p, m in merged.paths.items() if _wanted(m) is None and p in merged.ours}
    parents = ParentsInTheWay(repo.root, leaving)
    for path in touched:
        if _wanted(merged.paths[path]) is not None and (blocker := parents.blocker(path)):
            (dirty if blocker in state.entries else in_way).add(blocker)
    for kind, found in (
        ("Your local changes to the following files", dirty),
        ("The following untracked working tree files", in_way),
    ):
        if found:
            listed = ", ".join(sorted(found)[:MAX_LISTED])
            raise ConflictError(
                f"{kind} would be overwritten by merge: {listed} (commit or remove them first)"
            )


def _untracked_in_way(repo: Repository, path: str, merged: TreeMerge) -> bool:
    """Whether something untracked stands where the merge writes ``path``: anything
    but the very file it writes (which a merge killed half-way leaves)."""
    try:
        st = os.lstat(repo.root / path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    want = _wanted(merged.paths[path])
    return want is None or not holds_exactly(repo, path, st, want)


def _wanted(m: PathMerge) -> FlatEntry | None:
    """What the working tree gets at a path: the result, or the conflict's file."""
    return m.worktree if m.conflict else m.result


def apply_merge(repo: Repository, state: WorktreeState, merged: TreeMerge) -> None:
    """Write a checked merge result into the working tree and the staging area (its
    conflicts as stages 1-3)."""
    check_writable(p for p, m in merged.paths.items() if _wanted(m) is not None)
    for path, m in sorted(merged.paths.items()):
        want = _wanted(m)
        ours = merged.ours.get(path)
        if want is None:
            if ours is not None or os.path.lexists(repo.root / path):
                remove_entry(repo.root, path)
            state.entries.pop(path, None)
        elif want != ours or path not in state.entries:
            st = write_entry(repo, path, want)
            state.entries[path] = Entry(path, want.mode, want.id, want.size, st)
        if m.conflict:
            state.entries.pop(path, None)
            state.conflicts[path] = {
                stage: Entry(path, e.mode, e.id, e.size, None, stage)
                for stage, e in m.stages.items()
            }


def merge_message(repo: Repository, what: str) -> str:
    """git's ``Merge WHAT``, with `` into BRANCH`` unless on main or master."""
    text = f"Merge {what}"
    current = (repo.refs.head_target() or "").removeprefix("refs/heads/")
    if current and current not in DEFAULT_BRANCHES:
        text += f" into {current}"
    return text + "\n"


def pull_message(repo: Repository, branch: str, url: str) -> str:
    """git's message for pulling BRANCH from URL: ``Merge branch 'main' of URL``,
    the URL without trailing slashes or ``.git`` (as git's fetch writes it)."""
    return merge_message(repo, f"branch '{branch}' of {url.rstrip('/').removesuffix('.git')}")


def _message(name: str, repo: Repository) -> str:
    kind = "branch" if repo.refs.read("refs/heads/" + name) is not None else "commit"
    return merge_message(repo, f"{kind} '{name}'")


def _write_merge_state(
    repo: Repository, head: CommitId, theirs: CommitId, message: str, conflicts: list[str]
) -> None:
    (repo.cof_dir / "ORIG_HEAD").write_text(head.hex() + "\n")
    (repo.cof_dir / "MERGE_HEAD").write_text(theirs.hex() + "\n")
    notes = "".join(f"#\t{p}\n" for p in conflicts)
    (repo.cof_dir / "MERGE_MSG").write_text(
        message + ("\n# Conflicts:\n" + notes if conflicts else "")
    )


def _start(ctx: OpContext, repo: Repository, params: dict[str, Any]) -> dict[str, Any]:
    if (repo.cof_dir / "MERGE_HEAD").exists():
        raise ConflictError(
            "a merge is in progress: resolve and 'cof merge --continue', or 'cof merge --abort'"
        )
    if (repo.cof_dir / "CHERRY_PICK_HEAD").exists():  # as git: commit it first
        raise ConflictError(
            "you have not concluded your cherry-pick (CHERRY_PICK_HEAD exists): "
            "commit your changes, or 'cof cherry-pick --abort', before you merge"
        )
    name = params.get("rev")
    if not isinstance(name, str) or not name:
        raise UsageError("merge needs a branch or revision")
    name = expand_previous(repo, name)  # `merge -`: the message names the branch (git)
    theirs = resolve(repo, name)
    head = repo.refs.head()
    state = repo.load_state()
    if state.conflicts:
        raise ConflictError("you have unmerged paths; resolve them first")
    if head is None:
        return {
            **switch_to(
                ctx, repo, theirs, repo.refs.head_target(), False, f"merge {name}: Fast-forward"
            ),
            "fast_forward": True,
        }
    read = repo.objects.read_commit
    if is_ancestor(read, theirs, head):
        return {"up_to_date": True}
    bases = merge_bases(read, head, theirs)
    if not bases and not params.get("allow_unrelated"):
        raise UsageError(
            f"refusing to merge unrelated histories ('{name}' shares no "
            "commit with HEAD; use --allow-unrelated-histories)"
        )
    if bases == [head] and not params.get("no_ff"):
        return _fast_forward(ctx, repo, state, head, theirs, name)
    staged = staged_changes(repo, state, head)
    if staged:
        raise ConflictError(
            "your staged changes would be overwritten by merge: "
            f"{', '.join(staged[:MAX_LISTED])} (commit them first)"
        )
    message = params.get("message") or _message(name, repo)
    with repo.blocks.transaction() as txn:
        base_tree = _virtual_base(repo, txn, bases) if bases else None
        merged = merge_trees(
            repo, txn, base_tree, tree_of(repo, head), tree_of(repo, theirs), ("HEAD", name)
        )
    check_worktree(repo, state, merged)
    apply_merge(repo, state, merged)
    repo.save_state(state)
    conflicts = merged.conflicts
    _write_merge_state(repo, head, theirs, message, [p for p, _ in conflicts])
    if conflicts:
        return {
            "conflicts": [
                {"path": p, "kind": m.conflict, "message": m.message} for p, m in conflicts
            ],
            "merged": False,
        }
    result = make_commit(ctx, repo, message, None, allow_empty=True)
    return {
        "merged": True,
        "commit": result["id"],
        "strategy": "three-way",
        "bases": [b.hex() for b in bases],
    }


def _fast_forward(
    ctx: OpContext,
    repo: Repository,
    state: WorktreeState,
    head: CommitId,
    theirs: CommitId,
    name: str,
) -> dict[str, Any]:
    todo = check(repo, state, plan(repo, tree_of(repo, head), tree_of(repo, theirs)), "merge")
    total = sum(new.size for _, new in todo.values() if new is not None)
    result = apply(repo, state, todo, ByteProgress(ctx, "updating", total).add)
    repo.save_state(state)
    # As git: `reset --hard ORIG_HEAD` undoes a fast-forward merge or pull too.
    (repo.cof_dir / "ORIG_HEAD").write_text(head.hex() + "\n")
    repo.refs.update(
        "HEAD", theirs, reflog_signature(ctx), f"merge {name}: Fast-forward", expected=head
    )
    return {
        "fast_forward": True,
        "from": head.hex(),
        "to": theirs.hex(),
        "written": result.written,
        "removed": result.removed,
    }


def _abort(ctx: OpContext, repo: Repository) -> dict[str, Any]:
    """git's ``merge --abort`` is ``reset --merge``: every path the merge staged or
    left unmerged gets HEAD's version, other local changes stay; refused, the merge
    left as it was, where that would lose an unstaged edit or an untracked file."""
    if not (repo.cof_dir / "MERGE_HEAD").exists():
        raise UsageError("there is no merge to abort (MERGE_HEAD missing)")
    head = repo.refs.head()
    reset_merge_worktree(repo, head, "HEAD")
    if head is not None:
        move_head(ctx, repo, head, head, "reset: moving to HEAD")
    end_merge(repo)
    return {"aborted": True}


def _continue(ctx: OpContext, repo: Repository) -> dict[str, Any]:
    if not (repo.cof_dir / "MERGE_HEAD").exists():
        raise UsageError("there is no merge in progress (MERGE_HEAD missing)")
    state = repo.load_state()
    if state.conflicts:
        raise ConflictError(
            "cannot continue: unresolved conflicts in "
            f"{', '.join(sorted(state.conflicts)[:MAX_LISTED])} "
            "(edit them, then 'cof add' each path)"
        )
    text = (repo.cof_dir / "MERGE_MSG").read_text()
    message = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    result = make_commit(ctx, repo, message, None, allow_empty=True)
    return {"merged": True, "commit": result["id"]}


@op("merge", writes=True)
def merge(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    if params.get("abort"):
        return _abort(ctx, repo)
    if params.get("continue"):
        return _continue(ctx, repo)
    return _start(ctx, repo, params)
