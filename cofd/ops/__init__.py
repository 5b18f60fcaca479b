"""Operations: one module per user-visible command group, registered in ``api.OPS``.

Each operation is plain synchronous code run by the daemon in its thread pool; it
parses its parameters, does its work through ``objects`` and ``store``, and returns
a msgpack-able result (or raises a ``CofError``).
"""

from __future__ import annotations

import importlib

_MODULES = (
    "init_op",
    "stage",
    "status",
    "commit",
    "history",
    "reflogs",
    "branches",
    "merge",
    "switch_branch",
    "pick",
    "stash",
    "diff_op",
    "restore",
    "reset",
    "mv",
    "clean",
    "stats",
    "maintenance",
    "remote_ops",
    "peer_ops",
    "config_op",
    "rev_parse",
    "ls_files",
    "show_blob",
    "ls_tree",
    "archive",
)


def load_all() -> None:
    """Import every operation module so that its ``@op`` registrations run."""
    for name in _MODULES:
        importlib.import_module(f"cofd.ops.{name}")
