"""What a cherry-pick or revert of several commits keeps while it runs or is stopped:
``.cof/sequencer/`` (git keeps the same in ``.git/sequencer/``).

- ``todo``: one line per commit still to do, the one being picked (or stopped at)
  first: ``pick <id hex> <summary>`` or ``revert <id hex> <summary>``;
- ``head``: HEAD before the series (empty on an unborn branch), where ``--abort``
  goes back to;
- ``abort-safety``: HEAD after the last step the series took; ``--abort`` and
  ``--skip`` move HEAD only while it is still there, so they never undo commits the
  user made meanwhile (git's guard, same name);
- ``opts``: the options every pick of the series uses (JSON object).

The directory is written before the first pick and removed when the last one is
done, by ``--abort`` or ``--quit``, and by the commit that concludes the series'
last pick. Files are replaced atomically (write, fsync, rename); ``todo`` is saved
before each pick, so after a crash ``--continue`` resumes at the pick that was
running (and drops it if it was committed, as after a stop).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cofd.files import write_atomic
from cofd.objects.model import CommitId
from cofd.ops.repository import Repository

DIRECTORY = "sequencer"
ACTIONS = {"pick": "cherry-pick", "revert": "revert"}  # todo word -> command
_ID_HEX = 64


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the todo list."""

    action: str  # "pick" or "revert"
    commit: CommitId
    summary: str

    def line(self) -> str:
        return f"{self.action} {self.commit.hex()} {self.summary}\n"


def _dir(repo: Repository) -> Path:
    return repo.cof_dir / DIRECTORY


def _parse_id(text: str) -> CommitId | None:
    text = text.strip()
    if len(text) != _ID_HEX:
        return None
    try:
        return CommitId(bytes.fromhex(text))
    except ValueError:
        return None


def _parse_step(line: str) -> Step | None:
    action, _, rest = line.partition(" ")
    hex_id, _, summary = rest.partition(" ")
    commit = _parse_id(hex_id)
    if action not in ACTIONS or commit is None:
        return None
    return Step(action, commit, summary)


def in_progress(repo: Repository) -> bool:
    return (_dir(repo) / "todo").exists()


def read_todo(repo: Repository) -> list[Step]:
    """The commits still to do (unreadable lines are left out)."""
    try:
        text = (_dir(repo) / "todo").read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    return [s for s in map(_parse_step, text.splitlines()) if s is not None]


def command(repo: Repository) -> str | None:
    """ "cherry-pick" or "revert": what the series in progress does (its first todo
    line says, as git reads it), or None."""
    todo = read_todo(repo)
    return ACTIONS[todo[0].action] if todo else None


def save_todo(repo: Repository, steps: list[Step]) -> None:
    write_atomic(_dir(repo) / "todo", "".join(s.line() for s in steps), 0o644)


def begin(
    repo: Repository, steps: list[Step], head: CommitId | None, options: dict[str, Any]
) -> None:
    """Write the state of a new series (the caller checked none is in progress)."""
    _dir(repo).mkdir(exist_ok=True)
    write_atomic(_dir(repo) / "head", (head.hex() if head is not None else "") + "\n", 0o644)
    write_atomic(_dir(repo) / "opts", json.dumps(options, sort_keys=True) + "\n", 0o644)
    record_position(repo, head)
    save_todo(repo, steps)


def options(repo: Repository) -> dict[str, Any]:
    try:
        loaded = json.loads((_dir(repo) / "opts").read_text())
    except (FileNotFoundError, UnicodeDecodeError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def original_head(repo: Repository) -> CommitId | None:
    """HEAD before the series; None on a branch that was unborn (or an unreadable
    file: then there is nothing safe to go back to either)."""
    try:
        return _parse_id((_dir(repo) / "head").read_text())
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def record_position(repo: Repository, head: CommitId | None) -> None:
    """Remember where the series left HEAD (only while a series is in progress)."""
    if _dir(repo).is_dir():
        text = (head.hex() if head is not None else "") + "\n"
        write_atomic(_dir(repo) / "abort-safety", text, 0o644)


def head_moved(repo: Repository, head: CommitId | None) -> bool:
    """Whether HEAD is no longer where the series left it (a commit of the user's)."""
    try:
        recorded = (_dir(repo) / "abort-safety").read_text().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    return recorded != (head.hex() if head is not None else "")


def finish(repo: Repository) -> None:
    shutil.rmtree(_dir(repo), ignore_errors=True)


def end_after_last_pick(repo: Repository) -> None:
    """A commit that concludes a stopped pick ends the series if that pick was its
    last (git's ``sequencer_post_commit_cleanup``); otherwise ``--continue`` goes on."""
    if in_progress(repo) and len(read_todo(repo)) <= 1:
        finish(repo)


def named_commits(repo: Repository) -> list[tuple[str, CommitId]]:
    """The commits the series will pick or return to, which gc must keep."""
    found = [("sequencer todo", s.commit) for s in read_todo(repo)]
    for name in ("head", "abort-safety"):
        try:
            commit = _parse_id((_dir(repo) / name).read_text())
        except (FileNotFoundError, UnicodeDecodeError):
            continue
        if commit is not None:
            found.append((f"sequencer {name}", commit))
    return found
