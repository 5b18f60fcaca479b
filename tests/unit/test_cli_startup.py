"""What the CLI imports to start: every ``cof`` command pays for it on every run.

Each check imports modules in a fresh interpreter and names the modules that must not
have come with them: the standard library's slow-to-import modules, and those only
some commands need (they import them where they use them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.rpc import Error, Progress, Request, Result

ROOT = Path(__file__).resolve().parents[2]


def modules_after_import(*names: str) -> set[str]:
    """``sys.modules`` of a new interpreter that has imported ``names``."""
    code = f"import sys, {', '.join(names)}; print(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=os.fspath(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(result.stdout.split())


# Slow to import (each a millisecond or more, with what it imports in turn).
HEAVY = {"dataclasses", "inspect", "json", "shutil", "subprocess", "asyncio", "socket"}


def test_client_imports_no_heavy_module_nor_typing_nor_click() -> None:
    """``cofctl.entry`` serves ``cof status`` with the client alone, without click."""
    loaded = modules_after_import("cofctl.entry", "cofctl.client")
    assert loaded & (HEAVY | {"typing", "click"}) == set()


def test_cli_imports_no_command_and_no_heavy_module() -> None:
    loaded = modules_after_import("cofctl.cli", "cofctl.runner", "cofctl.render")
    assert "click" in loaded  # the check would mean nothing if nothing was imported
    assert loaded & (HEAVY - {"inspect"}) == set()  # click imports inspect itself
    assert {m for m in loaded if m.startswith("cofctl.commands.")} == set()


# protocol.rpc's messages are written out rather than dataclasses (to keep
# ``dataclasses`` off the start-up path); they must behave as the frozen dataclasses did.


def test_messages_compare_hash_and_show_by_value() -> None:
    assert Request(1, "status") == Request(1, "status", {}, "/", {})
    assert Request(1, "status") != Request(2, "status")
    assert Result(1, 2) != Progress(1, {}) and Result(1, 2) != Error(1, "x", "y")
    assert Result(1, 2) != (1, 2)
    assert hash(Result(1, "x")) == hash(Result(1, "x"))
    assert repr(Error(3, "path", "no such file")) == (
        "Error(id=3, code='path', message='no such file')"
    )
    assert repr(Request(1, "ping")) == "Request(id=1, op='ping', params={}, cwd='/', env={})"


def test_message_defaults_are_not_shared() -> None:
    first, second = Request(1, "a"), Request(2, "b")
    first.params["x"] = 1
    assert second.params == {}


def test_messages_are_immutable() -> None:
    request = Request(1, "status")
    with pytest.raises(AttributeError):
        request.op = "ping"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del request.op
    assert request.op == "status"


def test_messages_match_positionally() -> None:
    match Result(4, "done"):
        case Result(request_id, value):
            assert (request_id, value) == (4, "done")
        case _:
            pytest.fail("Result did not match its positional pattern")
