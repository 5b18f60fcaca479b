"""COF_HOME resolution and the paths derived from it (pure functions)."""

from __future__ import annotations

import os
from pathlib import Path

from protocol.home import (
    MAX_SOCKET_PATH_BYTES,
    log_path,
    pid_path,
    resolve_home,
    socket_path,
    startup_log_path,
)


def test_cof_home_wins() -> None:
    env = {"COF_HOME": "/srv/cof", "XDG_STATE_HOME": "/state", "HOME": "/home/u"}
    assert resolve_home(env) == Path("/srv/cof")


def test_cof_home_expands_user() -> None:
    assert resolve_home({"COF_HOME": "~/x", "HOME": "/home/u"}) == Path.home() / "x"


def test_relative_cof_home_is_made_absolute() -> None:
    assert resolve_home({"COF_HOME": "rel"}) == Path.cwd() / "rel"


def test_xdg_state_home() -> None:
    assert resolve_home({"XDG_STATE_HOME": "/state", "HOME": "/home/u"}) == Path("/state/cof")


def test_relative_xdg_state_home_ignored() -> None:
    home = resolve_home({"XDG_STATE_HOME": "state", "HOME": "/home/u"})
    assert home == Path("/home/u/.local/state/cof")


def test_default_is_never_dot_cof() -> None:
    home = resolve_home({"HOME": "/home/u"})
    assert home == Path("/home/u/.local/state/cof")
    assert home != Path("/home/u/.cof")


def test_default_without_home_variable_uses_passwd() -> None:
    home = resolve_home({})
    assert home.parts[-3:] == (".local", "state", "cof")
    assert home.is_absolute()


def test_empty_values_are_unset() -> None:
    assert resolve_home({"COF_HOME": "", "XDG_STATE_HOME": "", "HOME": "/h"}) == Path(
        "/h/.local/state/cof"
    )


def test_socket_inside_short_home() -> None:
    assert socket_path(Path("/tmp/cofabc"), {}) == Path("/tmp/cofabc/cofd.sock")


def long_home() -> Path:
    return Path("/tmp") / ("d" * 60) / ("e" * 60)


def test_long_home_falls_back_to_runtime_dir() -> None:
    path = socket_path(long_home(), {"XDG_RUNTIME_DIR": "/run/user/1000"})
    assert path.parent == Path("/run/user/1000")
    assert path.name.startswith("cof-") and path.suffix == ".sock"
    assert len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES


def test_long_home_falls_back_to_tmp_without_runtime_dir() -> None:
    path = socket_path(long_home(), {}, uid=1234)
    assert path.parent == Path("/tmp/cof-1234")
    assert len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES


def test_relative_or_too_long_runtime_dir_ignored() -> None:
    assert socket_path(long_home(), {"XDG_RUNTIME_DIR": "run"}, uid=1).parent == Path("/tmp/cof-1")
    deep = "/r" + "x" * 120
    assert socket_path(long_home(), {"XDG_RUNTIME_DIR": deep}, uid=1).parent == Path("/tmp/cof-1")


def test_fallback_differs_per_home_and_is_stable() -> None:
    a, b = long_home(), long_home() / "f"
    assert socket_path(a, {}, uid=1) != socket_path(b, {}, uid=1)
    assert socket_path(a, {}, uid=1) == socket_path(a, {}, uid=1)


def test_socket_path_at_exact_limit_kept_in_home() -> None:
    home = Path("/" + "h" * (MAX_SOCKET_PATH_BYTES - len("/cofd.sock") - 1))
    path = socket_path(home, {})
    assert len(os.fsencode(path)) == MAX_SOCKET_PATH_BYTES
    assert path.parent == home


def test_state_files_live_in_home() -> None:
    home = Path("/h")
    assert pid_path(home) == home / "cofd.pid"
    assert log_path(home) == home / "cofd.log"
    assert startup_log_path(home).parent == home
