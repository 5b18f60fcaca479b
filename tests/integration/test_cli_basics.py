"""The happy path through the real CLI and daemon: init, add, status, commit, log,
show, restore, rm, dedup-stats, revisions, ignore rules and subdirectories."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

MIB = 1024 * 1024
FULL_ID = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def repo(sandbox: CofSandbox, cof: CofRunner) -> Path:
    sandbox.env["COF_AUTHOR_NAME"] = "Tess Ter"
    sandbox.env["COF_AUTHOR_EMAIL"] = "tess@example.com"
    cof("init")
    return sandbox.work


def commit(cof: CofRunner, message: str, *extra: str) -> str:
    out = cof("commit", "-q", "-m", message, *extra).stdout
    assert out == "", out  # -q prints nothing, as git's
    (newest,) = log_json(cof, "-n", "1")
    assert FULL_ID.match(newest["id"]), newest
    return str(newest["id"])


def log_json(cof: CofRunner, *args: str) -> list[dict[str, Any]]:
    commits: list[dict[str, Any]] = json.loads(cof("log", "--json", *args).stdout)
    return commits


def porcelain(cof: CofRunner, *args: str, cwd: Path | None = None) -> list[str]:
    return cof("status", "--porcelain", *args, cwd=cwd).stdout.splitlines()


def test_init_and_reinit(sandbox: CofSandbox, cof: CofRunner) -> None:
    first = cof("init")
    assert first.stdout == f"Initialized empty cof repository in {sandbox.work}/.cof/\n"
    assert (sandbox.work / ".cof" / "config.toml").is_file()
    again = cof("init")
    assert again.stdout == f"Reinitialized existing cof repository in {sandbox.work}/.cof/\n"
    other = sandbox.work / "other"
    made = cof("init", "other")
    assert made.stdout == f"Initialized empty cof repository in {other}/.cof/\n"
    assert (other / ".cof" / "config.toml").is_file()


def test_add_status_commit_log_show(repo: Path, cof: CofRunner) -> None:
    (repo / "a.bin").write_bytes(b"alpha\n")
    (repo / "dir").mkdir()
    (repo / "dir" / "b.bin").write_bytes(b"beta\n")
    assert porcelain(cof) == ["?? a.bin", "?? dir/"]
    long = cof("status").stdout
    assert "On branch main" in long and "No commits yet" in long and "Untracked files:" in long

    cof("add", "a.bin")
    assert porcelain(cof) == ["A  a.bin", "?? dir/"]
    cof("add", "-A")
    assert porcelain(cof) == ["A  a.bin", "A  dir/b.bin"]
    status = json.loads(cof("status", "--json").stdout)
    assert status["branch"] == "main" and status["head"] is None
    assert status["entries"] == [["A ", "a.bin"], ["A ", "dir/b.bin"]]
    assert status["untracked"] == []
    assert "Changes to be committed:" in cof("status").stdout

    out = cof("commit", "-m", "first commit").stdout
    match = re.fullmatch(r"\[main \(root-commit\) ([0-9a-f]{64})\] first commit\n", out)
    assert match, out
    first = match.group(1)
    assert porcelain(cof) == []
    assert "nothing to commit, working tree clean" in cof("status").stdout

    (repo / "a.bin").write_bytes(b"alpha, changed\n")
    assert porcelain(cof) == [" M a.bin"]
    cof("add", "a.bin")
    assert porcelain(cof) == ["M  a.bin"]
    second = commit(cof, "second")

    commits = log_json(cof)
    assert [c["id"] for c in commits] == [second, first]
    assert commits[0]["parents"] == [first] and commits[1]["parents"] == []
    assert commits[0]["message"] == "second\n"
    assert commits[0]["author"] == "Tess Ter <tess@example.com>"
    assert [c["id"] for c in log_json(cof, "-n", "1")] == [second]
    assert cof("log", "--oneline").stdout.splitlines() == [
        f"{second[:12]} (HEAD -> main) second",
        f"{first[:12]} first commit",
    ]
    full = cof("log").stdout
    assert f"commit {second} (HEAD -> main)" in full and f"commit {first}" in full
    stat_out = cof("log", "--stat", "-n", "1").stdout
    assert " a.bin " in stat_out and "dir/b.bin" not in stat_out
    stat_first = cof("log", "--stat", first).stdout
    assert " a.bin " in stat_first and " dir/b.bin " in stat_first

    shown = cof("show").stdout
    assert shown.startswith(f"commit {second}\n") and "a.bin" in shown
    info = json.loads(cof("show", "--json", first).stdout)
    assert info["id"] == first
    assert sorted(c["path"] for c in info["changes"]) == ["a.bin", "dir/b.bin"]


def test_revisions(repo: Path, cof: CofRunner) -> None:
    ids = []
    for n in range(3):
        (repo / "f").write_bytes(f"version {n}\n".encode())
        cof("add", "f")
        ids.append(commit(cof, f"c{n}"))

    def resolved(rev: str) -> str:
        commits = log_json(cof, rev, "-n", "1")
        return str(commits[0]["id"])

    assert resolved("HEAD") == ids[2]
    assert resolved("main") == ids[2]
    assert resolved("HEAD~1") == ids[1]
    assert resolved("HEAD^") == ids[1]
    assert resolved("HEAD~2") == ids[0]
    assert resolved("main^^") == ids[0]
    assert resolved(ids[1][:6]) == ids[1]
    assert resolved(ids[0].upper()[:10]) == ids[0]
    assert [c["id"] for c in log_json(cof, "HEAD~1")] == [ids[1], ids[0]]
    assert json.loads(cof("show", "--json", "HEAD^").stdout)["id"] == ids[1]


def test_restore_worktree_staged_and_source(repo: Path, cof: CofRunner) -> None:
    f = repo / "f.bin"
    f.write_bytes(b"v1")
    cof("add", "f.bin")
    commit(cof, "v1")
    f.write_bytes(b"v2")
    cof("add", "f.bin")
    commit(cof, "v2")

    # Worktree from the staging area.
    f.write_bytes(b"scribble")
    cof("restore", "f.bin")
    assert f.read_bytes() == b"v2"
    assert porcelain(cof) == []

    # --staged: unstage (index from HEAD), worktree untouched.
    f.write_bytes(b"v3")
    cof("add", "f.bin")
    assert porcelain(cof) == ["M  f.bin"]
    cof("restore", "--staged", "f.bin")
    assert porcelain(cof) == [" M f.bin"]
    assert f.read_bytes() == b"v3"

    # --source REV writes the old version into the work tree only.
    cof("restore", "--source", "HEAD~1", "f.bin")
    assert f.read_bytes() == b"v1"
    assert porcelain(cof) == [" M f.bin"]
    cof("restore", "--source", "HEAD", "f.bin")
    assert f.read_bytes() == b"v2"
    assert porcelain(cof) == []

    # A deleted file comes back.
    f.unlink()
    assert porcelain(cof) == [" D f.bin"]
    cof("restore", "f.bin")
    assert f.read_bytes() == b"v2"


def test_exec_bit_and_symlinks_survive_restore(repo: Path, cof: CofRunner) -> None:
    tool = repo / "tool.sh"
    tool.write_bytes(b"#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    plain = repo / "plain.txt"
    plain.write_bytes(b"plain\n")
    plain.chmod(0o644)
    (repo / "link").symlink_to("plain.txt")
    (repo / "dangling").symlink_to("does/not/exist")
    cof("add", "-A")
    commit(cof, "modes")

    for name in ("tool.sh", "plain.txt", "link", "dangling"):
        (repo / name).unlink()
    cof("restore", "--source", "HEAD", "tool.sh", "plain.txt", "link", "dangling")
    assert tool.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert os.stat(tool).st_mode & 0o111 == 0o111
    assert os.stat(plain).st_mode & 0o111 == 0
    assert (repo / "link").is_symlink() and os.readlink(repo / "link") == "plain.txt"
    assert (repo / "dangling").is_symlink()
    assert os.readlink(repo / "dangling") == "does/not/exist"
    assert porcelain(cof) == []

    # Changing only the mode is a change.
    tool.chmod(0o644)
    assert porcelain(cof) == [" M tool.sh"]
    cof("restore", "tool.sh")
    assert stat.S_IMODE(os.stat(tool).st_mode) & 0o100


def test_rm_and_rm_cached(repo: Path, cof: CofRunner) -> None:
    for name in ("keep", "gone", "cached"):
        (repo / name).write_bytes(name.encode())
    cof("add", "-A")
    commit(cof, "three files")

    out = cof("rm", "gone").stdout
    assert out == "rm 'gone'\n"
    assert not (repo / "gone").exists()
    cof("rm", "--cached", "cached")
    assert (repo / "cached").read_bytes() == b"cached"
    assert porcelain(cof) == ["D  cached", "D  gone", "?? cached"]
    commit(cof, "removed")
    assert porcelain(cof) == ["?? cached"]
    info = json.loads(cof("show", "--json").stdout)
    assert sorted(c["path"] for c in info["changes"]) == ["cached", "gone"]


def test_cofignore(repo: Path, cof: CofRunner) -> None:
    (repo / ".cofignore").write_text("*.tmp\nbuild/\n!keep.tmp\n")
    (repo / "a.tmp").write_bytes(b"x")
    (repo / "keep.tmp").write_bytes(b"x")
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_bytes(b"x")
    (repo / "src.c").write_bytes(b"int main;\n")
    assert porcelain(cof) == ["?? .cofignore", "?? keep.tmp", "?? src.c"]
    cof("add", "-A")
    assert porcelain(cof) == ["A  .cofignore", "A  keep.tmp", "A  src.c"]
    ignored = cof("add", "a.tmp", check=False)
    assert ignored.returncode != 0 and "ignored" in ignored.stderr
    cof("add", "-f", "a.tmp")
    assert "A  a.tmp" in porcelain(cof)


def test_commands_from_a_subdirectory(repo: Path, cof: CofRunner) -> None:
    sub = repo / "deep" / "er"
    sub.mkdir(parents=True)
    (sub / "x.bin").write_bytes(b"x")
    (repo / "top.bin").write_bytes(b"top")
    cof("add", "x.bin", cwd=sub)
    assert porcelain(cof, cwd=sub) == ["A  deep/er/x.bin", "?? top.bin"]
    cof("add", "../../top.bin", cwd=sub)
    cof("commit", "-q", "-m", "from below", cwd=sub)
    first = json.loads(cof("log", "-n", "1", "--json", cwd=sub).stdout)[0]["id"]
    assert [c["id"] for c in json.loads(cof("log", "--json", cwd=sub).stdout)] == [first]
    (sub / "x.bin").write_bytes(b"changed")
    cof("restore", "x.bin", cwd=sub)
    assert (sub / "x.bin").read_bytes() == b"x"
    cof("rm", "--cached", "x.bin", cwd=sub)
    assert porcelain(cof) == ["D  deep/er/x.bin", "?? deep/"]


def test_dedup_stats(repo: Path, cof: CofRunner) -> None:
    data = os.urandom(MIB)
    (repo / "one.bin").write_bytes(data)
    (repo / "two.bin").write_bytes(data)
    cof("add", "-A")
    commit(cof, "same data twice")
    stats = json.loads(cof("dedup-stats", "--json").stdout)
    for key in (
        "logical_bytes",
        "unique_bytes",
        "stored_bytes",
        "blocks",
        "tier_bytes",
        "dedup_ratio",
        "savings_percent",
    ):
        assert key in stats, key
    assert set(stats["tier_bytes"]) == {"hot", "warm", "cold"}
    assert stats["logical_bytes"] == 2 * MIB
    # Data blocks plus a few manifest, tree and commit blocks.
    assert MIB <= stats["unique_bytes"] <= MIB + 64 * 1024
    assert MIB // 4096 <= stats["blocks"] <= MIB // 4096 + 16
    assert stats["unique_bytes"] <= stats["stored_bytes"] <= stats["unique_bytes"] * 1.1
    assert stats["tier_bytes"]["hot"] == stats["stored_bytes"]
    assert stats["tier_bytes"]["warm"] == stats["tier_bytes"]["cold"] == 0
    assert 1.9 <= stats["dedup_ratio"] <= 2.0
    assert 45.0 <= stats["savings_percent"] <= 50.0
    human = cof("dedup-stats").stdout
    assert "dedup ratio" in human


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("log", "--bogus"), "cof: no such option '--bogus' (see 'cof log --help')"),
        (("nosuch",), "cof: no such command 'nosuch' (see 'cof --help')"),
        (("clone",), "cof: missing argument 'URL' (see 'cof clone --help')"),
        (("checkout", "-b"), "cof: option '-b' requires an argument (see 'cof checkout --help')"),
        (
            ("branch", "-m"),
            "cof: branch name required (cof branch -m [OLD] NEW) (see 'cof branch --help')",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(
    sandbox: CofSandbox, cof: CofRunner, args: tuple[str, ...], message: str
) -> None:
    """click's own errors (unknown option, missing argument) follow cof's error rule:
    one line on stderr naming the help to read, nothing on stdout, exit code 2."""
    result = cof(*args, check=False)
    assert result.returncode == 2
    assert result.stderr == message + "\n"
    assert result.stdout == ""


def test_help_and_version_exit_0(cof: CofRunner) -> None:
    assert cof("log", "--help").stdout.startswith("Usage: cof log")
    assert cof("--version").stdout.startswith("cof, version ")


def test_concurrent_status_and_diff_save_the_stat_cache_safely(
    repo: Path, sandbox: CofSandbox, cof: CofRunner
) -> None:
    """status and diff are readers that may save refreshed stat data, so several may
    save at once: each writes a temp file of its own and renames it; none is left
    behind, and a stray one (a save killed half-way) is removed when the repository is
    next opened."""
    for i in range(40):
        (repo / f"f{i}.txt").write_text(f"{i}\n")
    cof("add", "-A")
    commit(cof, "files")
    for round_ in range(3):
        for i in range(40):  # new mtimes: every status refreshes and saves
            (repo / f"f{i}.txt").write_text(f"{i}\n")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "cofctl", *args],
                cwd=repo,
                env=sandbox.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in [("status", "--porcelain"), ("diff", "--name-only")] * 4
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert out == "", (round_, out)  # same content: nothing modified
    cof_dir = repo / ".cof"
    assert not list(cof_dir.glob("worktree.*.tmp"))
    assert porcelain(cof) == []

    (cof_dir / "worktree.k1ll3d.tmp").write_bytes(b"half a save")
    sandbox.stop_daemon()
    assert porcelain(cof) == []  # the daemon restarts and opens the repository
    assert not list(cof_dir.glob("worktree.*.tmp"))


def test_repository_removed_and_created_again_at_its_path(
    repo: Path, cof: CofRunner, sandbox: CofSandbox
) -> None:
    """``rm -rf .cof && cof init`` under a running daemon that had the old one open:
    commands act on the new repository, and the old one's files are let go."""
    (repo / "a.bin").write_bytes(b"old\n")
    cof("add", "a.bin")
    commit(cof, "old")
    daemon = sandbox.daemon_pid()
    assert daemon is not None
    shutil.rmtree(repo / ".cof")
    (repo / "a.bin").unlink()
    cof("init")
    (repo / "b.bin").write_bytes(b"new\n")
    cof("add", "b.bin")
    new = commit(cof, "new")
    assert [c["id"] for c in log_json(cof)] == [new]
    assert porcelain(cof) == []
    assert cof("show", "--stat", "HEAD").stdout.count("b.bin") == 1
    assert sandbox.daemon_pid() == daemon  # the same daemon all along
    fd_dir = Path(f"/proc/{daemon}/fd")
    held = [os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)]
    assert not [p for p in held if p.startswith(str(repo)) and p.endswith("(deleted)")]
    assert "was removed or replaced on disk" in (sandbox.home / "cofd.log").read_text()


def test_git_and_nested_repositories_are_never_tracked(repo: Path, cof: CofRunner) -> None:
    """A git repository in the same directory: ``add -A`` used to stage ``.git`` and
    a branch switch then rolled git's own history back. A nested cof repository is
    skipped as git skips an embedded one (its ``.cof`` made ``add -A`` fail)."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=g", "-c", "user.email=g@g", *args],
            cwd=repo, env=env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip

    git("init", "-q")
    (repo / "x").write_text("x\n")
    git("add", "x")
    git("commit", "-q", "-m", "g1")
    nested = repo / "sub"
    nested.mkdir()
    cof("init", cwd=nested)
    (nested / "inner.txt").write_text("inner\n")
    cof("add", "-A")
    assert porcelain(cof) == ["A  x", "?? sub/"]  # as git lists an embedded repository
    commit(cof, "c1")
    (repo / "y").write_text("y\n")
    git("add", "y")
    git("commit", "-q", "-m", "g2")
    cof("checkout", "-b", "other")
    cof("add", "-A")
    commit(cof, "c2")
    cof("checkout", "main")
    assert git("log", "--format=%s").split() == ["g2", "g1"]  # git's history untouched
    for path in (".git/config", ".GIT/config", "sub/.cof/config.toml"):
        refused = cof("add", "-f", path, check=False)
        assert refused.returncode == 5, refused.stderr
        assert "which cof never tracks" in refused.stderr
    assert cof("status", "--porcelain", cwd=nested).stdout == "?? inner.txt\n"


def test_a_file_name_that_is_not_utf8_is_named_not_a_crash(repo: Path, cof: CofRunner) -> None:
    """Tree names are UTF-8 (docs/design.md): such a file cannot be tracked, but it
    must not break `status` (it was an internal error) or hide why `add` refuses."""
    bad = os.fsdecode(b"bad\xffname")
    (repo / bad).write_bytes(b"1\n")
    (repo / "good.txt").write_text("good\n")
    # Listed by its bytes, quoted as git quotes them (core.quotePath).
    assert cof("status", "--porcelain").stdout == '?? "bad\\377name"\n?? good.txt\n'
    assert '\t"bad\\377name"\n' in cof("status").stdout
    for args in (("add", "-A"), ("add", bad)):
        refused = cof(*args, check=False)
        assert refused.returncode in (5, 14), refused.stderr
        assert len(refused.stderr.splitlines()) == 1 and '"bad\\377name"' in refused.stderr
        assert "not valid UTF-8" in refused.stderr
    cof("add", "good.txt")
    assert porcelain(cof) == ["A  good.txt", '?? "bad\\377name"']
