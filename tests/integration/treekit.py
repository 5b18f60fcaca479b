"""Work-tree helpers shared by the CLI tests: writing files (also big random ones,
streamed, with their sha256), committing, and listing everything under a directory
to compare before and after a command."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.integration.conftest import CofRunner


def write(root: Path, rel: str, data: bytes | str) -> Path:
    """Write ``data`` (``str`` as UTF-8) to ``root/rel``, creating parent directories."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def commit(cof: CofRunner, message: str) -> str:
    """``add -A`` and commit; the new commit's id."""
    cof("add", "-A")
    cof("commit", "-q", "-m", message)
    return head_id(cof)


def head_id(cof: CofRunner, cwd: Path | None = None) -> str:
    """The full id of the commit HEAD names (``commit -q`` prints nothing, as git's)."""
    commits = json.loads(cof("log", "-n", "1", "--json", cwd=cwd).stdout)
    return str(commits[0]["id"])


def listing(
    root: Path, file_value: Callable[[Path], str | None], skip: str | None = None
) -> dict[str, str]:
    """Every path under ``root`` (but a directory named ``skip``): ``dir`` for a
    directory, ``-> target`` for a symlink, ``file_value(path)`` for a file (left out
    where that is None)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != skip]
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                out[rel] = "-> " + os.readlink(full)
            elif full.is_dir():
                out[rel] = "dir"
            else:
                value = file_value(full)
                if value is not None:
                    out[rel] = value
    return out


MIB = 1024 * 1024


def write_random(path: Path, size: int) -> str:
    """Fill ``path`` with ``size`` random bytes (no holes); return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        for _ in range(size // MIB):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            fh.write(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()
