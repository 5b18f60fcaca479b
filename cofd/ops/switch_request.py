"""What a ``switch`` or branch-switching ``checkout`` asks for, checked once: the
options that cannot go together are refused in git's words (naming ``-c``/``-C`` for
switch, ``-b``/``-B`` for checkout), and ``--track``/``--no-track`` without a new
branch name takes it from the remote-tracking branch (``origin/topic``: ``topic``).

The target comes as text, or as its bytes when it is not UTF-8 (a file name:
``protocol.quoting.wire_path``), which no ref or commit of cof can be named.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from protocol.errors import UsageError
from protocol.quoting import text_path

COMMANDS = ("switch", "checkout")


@dataclass(frozen=True, slots=True)
class SwitchRequest:
    command: str  # "switch" or "checkout": whose rules and words apply
    target: str | None  # the branch or commit; START with a new branch
    rev_only: bool  # checkout's target came before `--`: never paths
    create: str | None  # -c / -b NEW
    reset: str | None  # -C / -B NEW: created, or reset if it exists
    orphan: str | None  # --orphan NEW
    detach: bool
    force: bool
    merge: bool  # -m: merge local changes in the way
    track: bool | None  # --track (True), --no-track (False), or neither
    guess: bool  # make a tracking branch NAME from the one remote with NAME
    quiet: bool  # nothing is printed: skip what only the messages need

    @property
    def new_branch(self) -> str | None:
        return self.create or self.reset

    @property
    def may_be_paths(self) -> bool:
        """Whether a target that names no commit is paths (git's checkout without
        ``--``), rather than an invalid reference."""
        return self.command == "checkout" and not self.rev_only

    @property
    def merge_label(self) -> str | None:
        """How a merge of local changes names the target (git: its name, or HEAD)."""
        return (self.target or "HEAD") if self.merge else None

    @staticmethod
    def parse(params: dict[str, Any]) -> SwitchRequest:
        command = params.get("command", "switch")
        if command not in COMMANDS:
            raise UsageError(f"unknown switch command {command!r}")
        track = params.get("track")
        if track is not None and not isinstance(track, bool):
            raise UsageError("track must be true, false or absent")
        request = SwitchRequest(
            command=command,
            target=_target(params.get("target")),
            rev_only=bool(params.get("rev_only")),
            create=_text(params, "create"),
            reset=_text(params, "reset"),
            orphan=_text(params, "orphan"),
            detach=bool(params.get("detach")),
            force=bool(params.get("force")),
            merge=bool(params.get("merge")),
            track=track,
            guess=params.get("guess") is not False,
            quiet=bool(params.get("quiet")),
        )
        request._refuse_conflicting_options()
        request = request._with_tracked_name()
        request._refuse_misplaced_options()
        return request

    def _refuse_conflicting_options(self) -> None:
        if len([n for n in (self.create, self.reset, self.orphan) if n]) > 1:
            both = "'-c', '-C'" if self.command == "switch" else "'-b', '-B'"
            raise UsageError(f"options {both}, and '--orphan' cannot be used together")
        if self.force and self.merge:
            raise UsageError("'-f' cannot be used with '-m'")
        if self.orphan and self.track is not None:
            raise UsageError("'--orphan' cannot be used with '-t'")

    def _refuse_misplaced_options(self) -> None:
        if self.detach and (self.new_branch or self.orphan):
            raise UsageError("'--detach' cannot be used with '-b/-B/--orphan'")
        if self.orphan and self.target and self.command == "switch":
            raise UsageError("'--orphan' cannot take <start-point>")

    def _with_tracked_name(self) -> SwitchRequest:
        """``--track origin/topic`` alone creates ``topic`` (git strips ``refs/``,
        ``remotes/`` and the remote's name)."""
        if self.track is None or self.new_branch or self.orphan:
            return self
        if not self.target:
            raise UsageError("--track needs a branch name")
        rest = self.target.removeprefix("refs/").removeprefix("remotes/")
        _, slash, name = rest.partition("/")
        if not slash or not name:
            option = "-c" if self.command == "switch" else "-b"
            raise UsageError(f"missing branch name; try {option}")
        return replace(self, create=name)


def _target(value: object) -> str | None:
    """The target as a name (bytes that are not UTF-8 become ``os.fsdecode``'s
    surrogates, so the path form reaches the same file)."""
    if value is None or value in ("", b""):
        return None
    if not isinstance(value, str | bytes):
        raise UsageError("target must be a string")
    return text_path(value)


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UsageError(f"{key} must be a string")
    return value
