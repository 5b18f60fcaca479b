"""Rendering ``status`` results as text: git's long format, short format and
porcelain v1. Free of click so the fast path in ``cofctl.entry`` can use it."""

from __future__ import annotations

from typing import Any

from cofctl.textfmt import quote_path, relative, short

# git's -u modes: no untracked files, a new directory as one DIR/ line, every file.
UNTRACKED_MODES = ("no", "normal", "all")
_LABELS = {"A": "new file", "M": "modified", "D": "deleted", "T": "typechange"}
# git's hint: before the first commit there is nothing to restore from.
_UNSTAGE_HINT = '  (use "cof restore --staged <file>..." to unstage)'
_UNSTAGE_UNBORN_HINT = '  (use "cof rm --cached <file>..." to unstage)'
_UNMERGED_LABELS = {
    "UU": "both modified",
    "AA": "both added",
    "DD": "both deleted",
    "AU": "added by us",
    "UA": "added by them",
    "DU": "deleted by us",
    "UD": "deleted by them",
}


def porcelain_lines(result: dict[str, Any]) -> list[str]:
    """git's porcelain v1: repository paths, quoted (a space too) as git quotes them."""
    lines = [f"{code} {quote_path(path, quote_space=True)}" for code, path in result["entries"]]
    lines += [f"?? {quote_path(path, quote_space=True)}" for path in result["untracked"]]
    return lines


def _name(path: str | bytes) -> str:
    """A path of the result as text: the daemon sends a name that is not UTF-8 (only
    an untracked one can be) as bytes, which become ``os.fsdecode``'s surrogates."""
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path


def _rel(result: dict[str, Any], path: str | bytes) -> str:
    """The path from the current directory (a directory keeps its ``/``)."""
    name = _name(path)
    shown = relative(result["root"], name)
    return shown + "/" if name.endswith("/") and not shown.endswith("/") else shown


def _quoted(result: dict[str, Any], path: str | bytes, quote_space: bool = False) -> str:
    """The path from the current directory, quoted as git quotes it (``quote_space``:
    the short format also quotes a name with a space, the long one does not)."""
    return quote_path(_rel(result, path), quote_space=quote_space)


def _commits(n: int) -> str:
    return f"{n} commit" if n == 1 else f"{n} commits"


def tracking_lines(upstream: dict[str, Any] | None) -> list[str]:
    """Where the branch stands against its upstream, in git status's words."""
    if upstream is None:
        return []
    name, ahead, behind = upstream["name"], upstream["ahead"], upstream["behind"]
    if upstream["gone"]:
        return [
            f"Your branch is based on '{name}', but the upstream is gone.",
            '  (use "cof branch --unset-upstream" to fixup)',
        ]
    if ahead and behind:
        return [
            f"Your branch and '{name}' have diverged,",
            f"and have {ahead} and {behind} different commits each, respectively.",
            '  (use "cof pull" to merge the remote branch into yours)',
        ]
    if ahead:
        return [
            f"Your branch is ahead of '{name}' by {_commits(ahead)}.",
            '  (use "cof push" to publish your local commits)',
        ]
    if behind:
        return [
            f"Your branch is behind '{name}' by {_commits(behind)}, and can be fast-forwarded.",
            '  (use "cof pull" to update your local branch)',
        ]
    return [f"Your branch is up to date with '{name}'."]


def detached_label(result: dict[str, Any]) -> str:
    """git's ``HEAD detached at v1`` / ``HEAD detached from 1a2b3c4d5e6f``."""
    name = result.get("detached_name") or short(result["head"])
    return f"HEAD detached {'at' if result.get('detached_at', True) else 'from'} {name}"


def tracking_counts(upstream: dict[str, Any]) -> str:
    """``ahead 1, behind 2``, ``gone`` or nothing: the bracketed part of git's
    ``status -sb`` header and ``branch -v`` lines."""
    if upstream["gone"]:
        return "gone"
    parts = [f"ahead {upstream['ahead']}"] if upstream["ahead"] else []
    parts += [f"behind {upstream['behind']}"] if upstream["behind"] else []
    return ", ".join(parts)


def branch_header(result: dict[str, Any]) -> str:
    """The ``## ...`` line of ``status -s -b`` and ``--porcelain -b``."""
    if result["detached"]:
        return "## HEAD (no branch)"
    if result["head"] is None:
        return f"## No commits yet on {result['branch']}"
    upstream = result.get("upstream")
    if upstream is None:
        return f"## {result['branch']}"
    counts = tracking_counts(upstream)
    where = f" [{counts}]" if counts else ""
    return f"## {result['branch']}...{upstream['name']}{where}"


def _block(lines: list[str]) -> list[str]:
    """A part of the long format: git ends each with a blank line."""
    return [*lines, ""] if lines else []


def _entries_by_section(
    result: dict[str, Any],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(staged, unmerged, unstaged) as (code, path) pairs."""
    entries = result["entries"]
    staged = [(c[0], p) for c, p in entries if c not in _UNMERGED_LABELS and c[0] != " "]
    unmerged = [(c, p) for c, p in entries if c in _UNMERGED_LABELS]
    unstaged = [(c[1], p) for c, p in entries if c not in _UNMERGED_LABELS and c[1] != " "]
    return staged, unmerged, unstaged


def _preamble(result: dict[str, Any]) -> list[str]:
    """Where HEAD is, how the branch stands against its upstream, a merge going on."""
    if result.get("no_branch"):
        out = ["Not currently on any branch."]
    elif result["detached"]:
        out = [detached_label(result)]
    else:
        out = [f"On branch {result['branch']}"]
        if result["head"] is not None:
            out += _block(tracking_lines(result.get("upstream")))
    if result.get("merging"):
        if any(c in _UNMERGED_LABELS for c, _ in result["entries"]):
            out += _block(
                [
                    "You have unmerged paths.",
                    '  (fix conflicts and run "cof commit")',
                    '  (use "cof merge --abort" to abort the merge)',
                ]
            )
        else:
            out += _block(
                [
                    "All conflicts fixed but you are still merging.",
                    '  (use "cof commit" to conclude merge)',
                ]
            )
    if result.get("picking"):
        out += _block(_picking_lines(result["picking"], result["entries"]))
    if result["head"] is None:
        out += ["", *_block(["No commits yet"])]
    return out


def _picking_lines(picking: dict[str, Any], entries: list[tuple[str, str]]) -> list[str]:
    """git's note on a stopped cherry-pick or revert; during a series git 2.39 names
    no commit ("Cherry-pick currently in progress.")."""
    command, commit = picking["command"], picking.get("commit")
    if commit is None:
        what = "Cherry-pick" if command == "cherry-pick" else "Revert"
        head = f"{what} currently in progress."
    else:
        doing = "cherry-picking" if command == "cherry-pick" else "reverting"
        head = f"You are currently {doing} commit {short(commit)}."
    if any(c in _UNMERGED_LABELS for c, _ in entries):
        how = f'  (fix conflicts and run "cof {command} --continue")'
    elif commit is None:
        how = f'  (run "cof {command} --continue" to continue)'
    else:
        how = f'  (all conflicts fixed: run "cof {command} --continue")'
    return [
        head,
        how,
        f'  (use "cof {command} --skip" to skip this patch)',
        f'  (use "cof {command} --abort" to cancel the {command} operation)',
    ]


def _closing(result: dict[str, Any], dirty: bool, untracked: str) -> str:
    """git's last line when nothing is staged."""
    if dirty:
        return 'no changes added to commit (use "cof add" and/or "cof commit -a")'
    if result["untracked"]:
        return 'nothing added to commit but untracked files present (use "cof add" to track)'
    if result["head"] is None:
        return 'nothing to commit (create/copy files and use "cof add" to track)'
    if untracked == "no":
        return "nothing to commit (use -u to show untracked files)"
    return "nothing to commit, working tree clean"


def _unstage_hints(result: dict[str, Any]) -> list[str]:
    """How to unstage, atop the staged and unmerged sections: none while merging or
    while a cherry-pick is stopped (git then has no single thing to restore from; a
    revert keeps it, and so does a series between picks), ``rm --cached`` before the
    first commit."""
    if result.get("merging") or result.get("cherry_pick_head"):
        return []
    return [_UNSTAGE_HINT if result["head"] is not None else _UNSTAGE_UNBORN_HINT]


def _resolution_hint(unmerged: list[tuple[str, str]]) -> str:
    """git's hint on marking conflicts resolved, worded by the conflicts' kinds: a
    path deleted on one side (DU, UD) is resolved by add or rm, one deleted on both
    (DD) by rm."""
    codes = {code for code, _ in unmerged}
    deleted_on_one = bool(codes & {"DU", "UD"})
    if "DD" not in codes:
        verb = "add/rm" if deleted_on_one else "add"
    else:
        verb = "rm" if codes == {"DD"} else "add/rm"
    how = " as appropriate" if verb == "add/rm" else ""
    return f'  (use "cof {verb} <file>..."{how} to mark resolution)'


def _update_hint(unstaged: list[tuple[str, str]]) -> str:
    """git's hint atop unstaged changes: "add/rm" once a deletion is among them."""
    verb = "add/rm" if any(code == "D" for code, _ in unstaged) else "add"
    return f'  (use "cof {verb} <file>..." to update what will be committed)'


def long_format(result: dict[str, Any], untracked: str = "normal") -> list[str]:
    """git's ``status``; ``untracked`` "no" says untracked files were not looked for."""
    staged, unmerged, unstaged = _entries_by_section(result)
    out = _preamble(result)
    if staged:
        out += _block(
            [
                "Changes to be committed:",
                *_unstage_hints(result),
                *(f"\t{_LABELS[c] + ':':<12}{_quoted(result, p)}" for c, p in staged),
            ]
        )
    if unmerged:
        out += _block(
            [
                "Unmerged paths:",
                *_unstage_hints(result),
                _resolution_hint(unmerged),
                *(f"\t{_UNMERGED_LABELS[c] + ':':<17}{_quoted(result, p)}" for c, p in unmerged),
            ]
        )
    if unstaged:
        out += _block(
            [
                "Changes not staged for commit:",
                _update_hint(unstaged),
                '  (use "cof restore <file>..." to discard changes in working directory)',
                *(f"\t{_LABELS[c] + ':':<12}{_quoted(result, p)}" for c, p in unstaged),
            ]
        )
    if result["untracked"]:
        out += _block(
            [
                "Untracked files:",
                '  (use "cof add <file>..." to include in what will be committed)',
                *(f"\t{_quoted(result, p)}" for p in result["untracked"]),
            ]
        )
    elif untracked == "no" and staged:
        out.append("Untracked files not listed (use -u option to show untracked files)")
    if not staged:  # as git: with something to commit, no closing line
        out.append(_closing(result, bool(unmerged or unstaged), untracked))
    return out


def short_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"{code} {_quoted(result, path, True)}" for code, path in result["entries"]]
    lines += [f"?? {_quoted(result, path, True)}" for path in result["untracked"]]
    return lines


def render(
    result: dict[str, Any],
    porcelain: bool,
    short_format: bool,
    show_branch: bool = False,
    untracked: str = "normal",
) -> str:
    """The status text; ``untracked`` is the -u mode the result was computed with
    (the listing itself comes from the daemon, only the long format's notes change)."""
    if porcelain or short_format:
        lines = [branch_header(result)] if show_branch else []
        lines += porcelain_lines(result) if porcelain else short_lines(result)
    else:
        lines = long_format(result, untracked)
    return "".join(line + "\n" for line in lines)
