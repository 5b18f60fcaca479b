"""``cof config`` through the real CLI and daemon, beside ``git config`` where the two
share behaviour scripts depend on (exit statuses, ``--list`` and ``--show-origin``
lines), and the guarantees git does not give: a value is checked before it is
written, a repository's format keys cannot be changed, comments survive an edit."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import CofSandbox


def git_config(home: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    env.pop("GIT_CONFIG_GLOBAL", None)
    return subprocess.run(
        ["git", "config", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )


def test_get_set_unset_and_list_behave_as_git_config(sandbox: CofSandbox, tmp_path: Path) -> None:
    repo, git_repo, git_home = sandbox.work / "r", tmp_path / "g", tmp_path / "home"
    git_home.mkdir()
    sandbox.cof("init", "-q", repo.name)
    subprocess.run(["git", "init", "-q", str(git_repo)], check=True)

    def both(*args: str) -> tuple[tuple[int, str], tuple[int, str]]:
        theirs = git_config(git_home, git_repo, *args)
        ours = sandbox.cof("config", *args, cwd=repo, check=False)
        return (theirs.returncode, theirs.stdout), (ours.returncode, ours.stdout)

    # Unset: exit 1, nothing printed, so `cof config user.name || ...` works.
    theirs, ours = both("user.name")
    assert ours == theirs == (1, "")
    theirs, ours = both("--global", "user.name", 'Ann "Q" Example')
    assert ours == theirs == (0, "")
    theirs, ours = both("user.name")
    assert ours == theirs == (0, 'Ann "Q" Example\n')
    theirs, ours = both("--get", "user.name")
    assert ours == theirs
    theirs, ours = both("--global", "--list")
    assert ours == theirs == (0, 'user.name=Ann "Q" Example\n')
    # --show-origin: "file:PATH<TAB>..." for the user file, as git's ~/.gitconfig line.
    theirs, ours = both("--show-origin", "user.name")
    assert theirs == (0, f'file:{git_home}/.gitconfig\tAnn "Q" Example\n')
    assert ours == (0, f'file:{sandbox.home}/config.toml\tAnn "Q" Example\n')
    # --unset of something not set: exit 5; of something set: 0, then it reads unset.
    theirs, ours = both("--global", "--unset", "user.email")
    assert ours[0] == theirs[0] == 5
    theirs, ours = both("--global", "--unset", "user.name")
    assert ours == theirs == (0, "")
    theirs, ours = both("user.name")
    assert ours == theirs == (1, "")


def test_layers_local_beats_global_and_environment_beats_both(sandbox: CofSandbox) -> None:
    repo = sandbox.work / "r"
    sandbox.cof("init", "-q", repo.name)
    sandbox.cof("config", "--global", "gc.unreachable_days", "7", cwd=repo)
    assert sandbox.cof("config", "gc.unreachable_days", cwd=repo).stdout == "7\n"
    sandbox.cof("config", "gc.unreachable_days", "9", cwd=repo)  # --local by default
    assert sandbox.cof("config", "gc.unreachable_days", cwd=repo).stdout == "9\n"
    assert sandbox.cof("config", "--global", "gc.unreachable_days", cwd=repo).stdout == "7\n"
    sandbox.env["COF_GC_UNREACHABLE_DAYS"] = "11"
    shown = sandbox.cof("config", "--show-origin", "gc.unreachable_days", cwd=repo).stdout
    assert shown == "env:COF_GC_UNREACHABLE_DAYS\t11\n"
    listed = sandbox.cof("config", "-l", "--show-origin", cwd=repo).stdout.splitlines()
    assert [line for line in listed if "gc." in line] == [
        f"file:{sandbox.home}/config.toml\tgc.unreachable_days=7",
        "file:.cof/config.toml\tgc.unreachable_days=9",
        "env:COF_GC_UNREACHABLE_DAYS\tgc.unreachable_days=11",
    ]
    assert "file:.cof/config.toml\tcore.block_size=4096" in listed


def test_identity_set_by_config_signs_commits(sandbox: CofSandbox) -> None:
    repo = sandbox.work / "r"
    sandbox.env.pop("COF_AUTHOR_NAME", None)
    sandbox.env.pop("COF_AUTHOR_EMAIL", None)
    sandbox.cof("init", "-q", repo.name)
    (repo / "a.bin").write_bytes(b"a")
    sandbox.cof("add", "a.bin", cwd=repo)
    refused = sandbox.cof("commit", "-m", "one", cwd=repo, check=False)
    assert refused.returncode != 0
    assert "cof config --global user.name" in refused.stderr
    sandbox.cof("config", "--global", "user.name", "Ann Example", cwd=repo)
    sandbox.cof("config", "--global", "user.email", "ann@example.com", cwd=repo)
    sandbox.cof("commit", "-m", "one", cwd=repo)
    log = sandbox.cof("log", "-n", "1", cwd=repo).stdout
    assert "Author: Ann Example <ann@example.com>" in log


def test_bad_changes_are_refused_and_leave_the_file_as_it_was(sandbox: CofSandbox) -> None:
    repo = sandbox.work / "r"
    sandbox.cof("init", "-q", repo.name)
    config = repo / ".cof" / "config.toml"
    before = config.read_bytes()
    refusals = {
        ("core.block_size", "8192"): "fixed when a repository is created",
        ("core.cache_size_mb", "lots"): "expected an integer from 1 to 65536, got 'lots'",
        ("compression.warm_threshold", "500"): "cold_threshold: expected a value >= warm",
        ("user.name", "X"): "per-user setting: use --global",
        ("core.cache", "1"): "unknown key",
        ("nosection", "1"): "SECTION.KEY",
    }
    for (name, value), message in refusals.items():
        result = sandbox.cof("config", name, value, cwd=repo, check=False)
        assert result.returncode == 6, (name, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert config.read_bytes() == before
    outside = sandbox.cof("config", "gc.auto_gc", "false", check=False)
    assert outside.returncode == 3
    assert "use --global" in outside.stderr
    # A file that is not TOML is named and left alone; nothing else reads it wrong.
    (sandbox.home / "config.toml").write_text("[user\nname = 'x'\n")
    broken = sandbox.cof("config", "--global", "user.name", "Y", cwd=repo, check=False)
    assert broken.returncode == 6
    assert "not valid TOML" in broken.stderr
    assert (sandbox.home / "config.toml").read_text() == "[user\nname = 'x'\n"


def test_an_edit_keeps_comments_and_applies_to_the_next_command(sandbox: CofSandbox) -> None:
    repo = sandbox.work / "r"
    sandbox.cof("init", "-q", repo.name)
    config = repo / ".cof" / "config.toml"
    sandbox.cof("config", "--global", "user.name", "Ann Example", cwd=repo)
    sandbox.cof("config", "compression.warm_threshold", "0", cwd=repo)
    sandbox.cof("config", "compression.cold_threshold", "0", cwd=repo)
    text = config.read_text()
    assert text.startswith("# cof repository configuration")
    assert "# warm_threshold = 10\n" in text  # the documented default stays
    assert "\nwarm_threshold = 0\n" in text and "\ncold_threshold = 0\n" in text
    # The repository's daemon reads it on the next command: one commit later the
    # first one's blocks are old enough for the cold tier.
    for name in ("a.bin", "b.bin"):
        (repo / name).write_bytes(os.urandom(20_000))
        sandbox.cof("add", name, cwd=repo)
        sandbox.cof("commit", "-q", "-m", name, cwd=repo)
    sandbox.cof("migrate", "--wait", cwd=repo)
    stats = json.loads(sandbox.cof("dedup-stats", "--json", cwd=repo).stdout)
    assert stats["tier_blocks"]["cold"] > 0
    assert sandbox.cof("config", "--unset", "compression.cold_threshold", cwd=repo).stdout == ""
    assert "cold_threshold = 0" not in config.read_text()
