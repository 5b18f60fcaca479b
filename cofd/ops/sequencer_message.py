"""The messages cherry-pick and revert commit with, in git's words.

- cherry-pick: the picked commit's message; ``-x`` adds ``(cherry picked from commit
  ID)``;
- revert: ``Revert "<summary>"`` and ``This reverts commit ID.`` (for a merge: which
  parent's changes are reversed);
- ``-s``: a ``Signed-off-by: NAME <EMAIL>`` trailer (the committer).

Both additions go where git puts them: straight under the message's trailer block if
it ends with one, else after a blank line; a sign-off already last is not repeated.
"""

from __future__ import annotations

import re

from cofd.objects.model import Commit, CommitId

CHERRY_PICKED = "(cherry picked from commit "
SIGNED_OFF = "Signed-off-by: "
# Trailers git itself writes: one of them makes a paragraph a trailer block even
# when only a quarter of its lines are trailers.
_GIT_PREFIXES = (SIGNED_OFF, CHERRY_PICKED)
# "Token: value" (the token alphanumeric or "-", blanks allowed before the colon).
_TRAILER = re.compile(r"^[A-Za-z0-9-]+[ \t]*:")


def _trailer_block(lines: list[str]) -> list[str]:
    """The lines of the message's closing trailer block (git's rules: not in the
    title paragraph; all lines trailers, or a git-written one among at least 25%)."""
    title_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    trailers = others = continued = 0
    recognized = False
    for i in range(len(lines) - 1, title_end - 1, -1):
        line = lines[i]
        if not line.strip():
            if trailers + others + continued == 0:
                continue  # blank lines at the end
            others += continued
            if (recognized and trailers * 3 >= others) or (trailers and not others):
                return lines[i + 1 :]
            return []
        if line.startswith(_GIT_PREFIXES):
            trailers, continued, recognized = trailers + 1, 0, True
        elif _TRAILER.match(line):
            trailers, continued = trailers + 1, 0
        elif line[0] in " \t":
            continued += 1
        else:
            others, continued = others + 1 + continued, 0
    return []


def _append_trailer(message: str, trailer: str, unless_last: bool) -> str:
    """``trailer`` added under the message's trailer block, or after a blank line;
    with ``unless_last``, not when it already ends the block."""
    text = message.rstrip("\n") + "\n" if message.strip() else ""
    block = _trailer_block(text.splitlines())
    if unless_last and block and block[-1] == trailer:
        return text
    if not block:
        text += "\n"
    return text + trailer + "\n"


def pick_message(commit: CommitId, info: Commit, record_origin: bool) -> str:
    """The message of a cherry-pick of ``commit`` (``-x``: naming it)."""
    text = info.message.rstrip("\n") + "\n"
    if record_origin:
        text = _append_trailer(text, f"{CHERRY_PICKED}{commit.hex()})", unless_last=False)
    return text


def revert_message(commit: CommitId, info: Commit, parent: CommitId | None) -> str:
    """``Revert "<summary>"``, which commit (and, for a merge, which parent)."""
    text = f'Revert "{info.summary}"\n\nThis reverts commit {commit.hex()}'
    if len(info.parents) > 1 and parent is not None:
        return text + f", reversing\nchanges made to {parent.hex()}.\n"
    return text + ".\n"


def signed_off(message: str, who: str) -> str:
    """``message`` with ``Signed-off-by: WHO`` (``-s``), as git appends it."""
    return _append_trailer(message, f"{SIGNED_OFF}{who}", unless_last=True)
