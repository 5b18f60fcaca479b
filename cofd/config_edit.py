"""Reading and editing one configuration file for ``cof config``.

Edits go through tomlkit so a file keeps its comments, order and layout (a
repository's ``config.toml`` lists every default as a comment; ``cof config`` sets a
key below that comment). Nothing is written unless the whole resulting configuration
validates — the edited file together with the other layers — so ``cof config`` can
never leave a file that makes the next command fail. A file that is already broken is
reported and left as it is.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import InlineTable, Table

from cofd.config import env_key, read_toml
from cofd.files import locked, write_atomic
from protocol.errors import ConfigError

Check = Callable[[dict[str, Any]], None]  # validates a layer as it would be written


@dataclass(frozen=True, slots=True)
class Setting:
    section: str
    key: str
    value: Any
    origin: str  # "file:PATH" or "env:NAME", as git's --show-origin

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


def format_value(value: Any) -> str:
    """A value as ``cof config`` prints it: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def file_settings(path: Path, origin: str) -> Iterator[Setting]:
    """The settings ``path`` makes, in file order (none when it does not exist)."""
    for section, values in read_toml(path).items():
        if isinstance(values, dict):
            for key, value in values.items():
                yield Setting(section, key, value, origin)


def env_settings(env: Mapping[str, str]) -> Iterator[Setting]:
    """The settings ``COF_<SECTION>_<KEY>`` variables make (as text, as given)."""
    for name, raw in sorted(env.items()):
        setting = env_key(name)
        if setting is not None:
            yield Setting(*setting, raw, f"env:{name}")


def set_value(path: Path, section: str, key: str, value: Any, check: Check, mode: int) -> None:
    """Set ``section.key`` to ``value`` in the file at ``path`` (created with ``mode``)."""

    def change(doc: tomlkit.TOMLDocument) -> bool:
        table = doc.get(section)
        if table is None:
            table = tomlkit.table()
            doc.add(section, table)
        elif not isinstance(table, Table | InlineTable):
            raise ConfigError(f"{path}: {section}: expected a table")
        table[key] = value
        return True

    _edit(path, change, check, mode)


def unset_value(path: Path, section: str, key: str, check: Check) -> bool:
    """Remove ``section.key`` from the file at ``path``; False if it was not set there."""

    def change(doc: tomlkit.TOMLDocument) -> bool:
        table = doc.get(section)
        if not isinstance(table, Table | InlineTable) or key not in table:
            return False
        del table[key]
        return True

    return _edit(path, change, check, 0o600)


def _edit(
    path: Path, change: Callable[[tomlkit.TOMLDocument], bool], check: Check, mode: int
) -> bool:
    with locked(path):
        try:
            text = path.read_text(encoding="utf-8")
            mode = os.stat(path).st_mode & 0o777  # keep the file's own permissions
        except FileNotFoundError:
            text = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        try:
            doc = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}; fix or remove it first") from exc
        if not change(doc):
            return False
        new_text = tomlkit.dumps(doc)
        check(tomllib.loads(new_text))
        try:
            write_atomic(path, new_text, mode)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write: {exc.strerror}") from exc
        return True
