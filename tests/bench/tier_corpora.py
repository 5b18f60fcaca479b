"""Corpora for the storage-tier benchmark: successive versions of real binaries and
a synthetic page-structured database.

Each corpus is a list of directories, one per version, under the cache directory
(``COF_BENCH_DIR``, default ``/tmp/cof-bench``); building is idempotent.

- ``numpy``: numpy 1.26.2, 1.26.3 and 1.26.4 (CPython 3.11, manylinux x86_64 wheels,
  ``pip download --no-deps``), extracted: compiled extension modules, shared
  libraries (OpenBLAS) and Python sources.
- ``pydantic-core``: pydantic_core 2.14.1, 2.14.3, 2.14.4, 2.14.5, 2.14.6 wheels (2.14.2
  has no wheel on the index used), extracted: one large
  Rust extension module per version plus small files.
- ``sqlite``: a SQLite database (4 KiB pages, ~24 MiB) edited by 20 rounds of
  inserts, updates and deletes, one snapshot per round (seeded, deterministic).
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

WHEELS = {
    "numpy": ("numpy", ["1.26.2", "1.26.3", "1.26.4"]),
    "pydantic-core": (
        "pydantic_core",
        ["2.14.1", "2.14.3", "2.14.4", "2.14.5", "2.14.6"],
    ),
}
SQLITE_ROUNDS = 20


def pip_command() -> list[str]:
    """A pip able to download (the project venv has none): ``COF_BENCH_PIP`` or PATH's."""
    if os.environ.get("COF_BENCH_PIP"):
        return os.environ["COF_BENCH_PIP"].split()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / "pip3"
        if ".venv" not in directory and candidate.is_file():
            return [str(candidate)]
    return [sys.executable, "-m", "pip"]


def cache_dir() -> Path:
    path = Path(os.environ.get("COF_BENCH_DIR", "/tmp/cof-bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def wheel_corpus(name: str) -> list[Path]:
    """Extracted wheels of successive versions of ``name`` (see WHEELS)."""
    package, releases = WHEELS[name]
    base = cache_dir() / "corpora" / name
    out = []
    for version in releases:
        target = base / version
        if not target.is_dir():
            downloads = base / "wheels"
            downloads.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    *pip_command(),
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--python-version",
                    "3.11",
                    "--platform",
                    "manylinux2014_x86_64",
                    f"{package}=={version}",
                    "-d",
                    str(downloads),
                ],
                check=True,
            )
            (wheel,) = downloads.glob(f"{package}-{version}-*.whl")
            tmp = target.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(tmp)
            tmp.rename(target)
        out.append(target)
    return out


def sqlite_corpus(rounds: int = SQLITE_ROUNDS, seed: int = 7) -> list[Path]:
    """Snapshots of a database edited round after round (uncompressed pages)."""
    base = cache_dir() / "corpora" / f"sqlite-{rounds}-{seed}"
    done = base / "done"
    versions = [base / f"v{n:03d}" for n in range(rounds)]
    if done.exists():
        return versions
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    rng = random.Random(seed)
    db_path = base / "work.db"
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, note TEXT)"
    )
    conn.execute("CREATE INDEX items_name ON items (name)")
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(2000)
    ]

    def row() -> tuple[str, int, float, str]:
        return (
            rng.choice(words),
            rng.randint(0, 1000),
            round(rng.uniform(0, 500), 2),
            " ".join(rng.choice(words) for _ in range(rng.randint(5, 30))),
        )

    conn.executemany(
        "INSERT INTO items (name, qty, price, note) VALUES (?, ?, ?, ?)",
        [row() for _ in range(120_000)],
    )
    conn.commit()
    for n, target in enumerate(versions):
        if n:
            count = conn.execute("SELECT MAX(id) FROM items").fetchone()[0]
            for _ in range(800):
                conn.execute(
                    "UPDATE items SET qty = ?, note = ? WHERE id = ?",
                    (rng.randint(0, 1000), row()[3], rng.randint(1, count)),
                )
            conn.executemany(
                "INSERT INTO items (name, qty, price, note) VALUES (?, ?, ?, ?)",
                [row() for _ in range(2000)],
            )
            conn.execute(
                "DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY RANDOM() LIMIT 300)"
            )
            conn.commit()
        target.mkdir()
        shutil.copyfile(db_path, target / "inventory.db")
    conn.close()
    db_path.unlink()
    done.touch()
    return versions


CORPORA = {
    "numpy": lambda: wheel_corpus("numpy"),
    "pydantic-core": lambda: wheel_corpus("pydantic-core"),
    "sqlite": sqlite_corpus,
}
