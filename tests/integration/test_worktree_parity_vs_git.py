"""The working tree as git sees it, each run on git too (``gitpair``): embedded
repositories in ``status``, ``ls-files -o`` and ``add``; ``rm``'s lines; the hints of
the long status; a name that is not UTF-8 in ``add``'s refusal; and the ``--json``
of ``ls-files`` and ``rev-parse`` against their text.

Embedded repositories: a cof worktree may hold a cof repository (``.cof``) or a git
one (``.git``); the git worktree holds git repositories at the same places.

Differences from git, documented rather than matched:

- ``add`` of an embedded repository: git records a gitlink (a submodule entry, with a
  warning), or fails when the repository has no commit; cof has no gitlinks, so it
  leaves the repository untracked with a ``warning: not adding embedded repository``
  line and stages the rest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.integration.gitpair import GIT_OPTIONS, GitPair
from tests.integration.test_local_parity_vs_git import same_output
from tests.integration.test_merge_conflicts import apply, commit_both, fork, lines, pair

__all__ = ["pair"]  # a fixture, used by name

GITLINK_MODE = "160000"


def git_in(pair: GitPair, where: str, args: list[str]) -> bytes:
    """git's stdout for ``args`` run from the directory ``where`` (not ``git -C``)."""
    g = subprocess.run(
        ["git", *GIT_OPTIONS, *args], cwd=pair.git_root / where, env=pair.git_env,
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert g.returncode == 0, (args, g.stderr)
    return g.stdout


def cof_in(pair: GitPair, where: str, args: list[str]) -> bytes:
    """cof's stdout for ``args`` run from the directory ``where``, as bytes."""
    c = subprocess.run(
        [sys.executable, "-m", "cofctl", *args], cwd=pair.cof_root / where,
        env=pair.sandbox.env, capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert c.returncode == 0, (args, c.stderr)
    return c.stdout


def same_bytes(pair: GitPair, where: str, args: list[str]) -> bytes:
    g, c = git_in(pair, where, args), cof_in(pair, where, args)
    assert c == g, f"{where} {args}: git {g!r}, cof {c!r}"
    return c


def embed(pair: GitPair, path: str, cof_kind: str) -> None:
    """A repository of its own at ``path`` in both trees: a git one in git's; in
    cof's, a cof one (``cof_kind`` "cof") or a git one ("git")."""
    for root in (pair.git_root, pair.cof_root):
        (root / path).mkdir(parents=True, exist_ok=True)
    pair.git("init", "-q", path)
    if cof_kind == "cof":
        pair.cof("init", "-q", path)
    else:
        subprocess.run(["git", "init", "-q", path], cwd=pair.cof_root, env=pair.git_env, check=True)


def embedded_layout(pair: GitPair) -> None:
    """Tracked top.txt and t/tracked.txt; repositories of their own: sub (with files
    two levels down), a/inner (in the untracked a/, beside a/f.txt), e (empty) and t
    (holding a tracked file: git looks inside, t/new.txt is listed); u.txt."""
    apply(pair, {"top.txt": b"top\n", "t/tracked.txt": b"t\n"})
    commit_both(pair, "base")
    embed(pair, "sub", "cof")
    embed(pair, "a/inner", "git")
    embed(pair, "e", "cof")
    embed(pair, "t", "cof")
    apply(
        pair,
        {
            "sub/x.txt": b"x\n",
            "sub/inner/f.txt": b"f\n",
            "a/f.txt": b"f\n",
            "a/inner/g.txt": b"g\n",
            "t/new.txt": b"n\n",
            "u.txt": b"u\n",
        },
    )


def test_embedded_repositories_are_listed_once_and_never_entered(pair: GitPair) -> None:
    embedded_layout(pair)
    for args in (
        ["status", "--porcelain"],
        ["status", "--porcelain", "-uall"],
        ["status", "-s"],
        ["status"],
        ["status", "-uall"],
        ["ls-files", "-o"],
        ["ls-files", "-o", "sub"],
        ["ls-files", "-o", "sub/inner"],  # inside one: nothing
        ["ls-files", "-o", "sub/inner/f.txt"],
        ["status", "--porcelain", "sub"],
        ["status", "--porcelain", "sub/inner/f.txt"],
    ):
        same_output(pair, args)
    assert same_output(pair, ["ls-files", "-o"]) == (
        "a/f.txt\na/inner/\ne/\nsub/\nt/new.txt\nu.txt\n"
    )
    # From a subdirectory: relative names, a repository elsewhere through "..".
    same_bytes(pair, "a", ["ls-files", "-o"])
    same_bytes(pair, "a", ["ls-files", "-o", "../sub", "../e"])
    same_bytes(pair, "a", ["status", "--porcelain"])
    # Once a/ holds a tracked file, a/inner/ is listed on its own by default too.
    pair.both(["add", "a/f.txt"])
    same_output(pair, ["status", "--porcelain"])
    same_output(pair, ["status"])


def test_embedded_repository_that_is_ignored_is_listed_only_as_ignored(pair: GitPair) -> None:
    apply(pair, {".gitignore": b"ign/\n", ".cofignore": b"ign/\n", "top.txt": b"t\n"})
    commit_both(pair, "base")
    embed(pair, "ign", "cof")
    apply(pair, {"ign/i.txt": b"i\n"})
    same_output(pair, ["status", "--porcelain", "-uall"])
    same_output(pair, ["ls-files", "-o", "--exclude-standard"])
    assert same_output(pair, ["ls-files", "-o", "-i", "--exclude-standard"]) == "ign/\n"


def staged_files(pair: GitPair) -> tuple[list[str], list[str]]:
    """(git's staged paths without its gitlinks, cof's staged paths)."""
    git = [
        line.split("\t", 1)[1]
        for line in pair.git("ls-files", "-s").stdout.splitlines()
        if not line.startswith(GITLINK_MODE)
    ]
    return git, pair.cof("ls-files").stdout.splitlines()


def test_add_never_stages_what_an_embedded_repository_holds(pair: GitPair) -> None:
    embedded_layout(pair)
    # A path inside one: git stages nothing and says nothing; cof warns.
    _, c = pair.both(["add", "sub/inner/f.txt"])
    assert c.stderr == "warning: not adding embedded repository: sub\n", c.stderr
    assert staged_files(pair)[1] == staged_files(pair)[0] == ["t/tracked.txt", "top.txt"]
    # git's add -A records a gitlink for each (which needs a commit in it).
    for path in ("sub", "a/inner", "e", "t"):
        pair.git("-C", path, "commit", "-q", "--allow-empty", "-m", "inner")
    g, c = pair.both(["add", "-A"])
    assert "adding embedded git repository: sub" in g.stderr
    assert c.stderr.splitlines() == [
        f"warning: not adding embedded repository: {path}" for path in ("a/inner", "e", "sub")
    ]
    git, cof = staged_files(pair)
    assert cof == git == ["a/f.txt", "t/new.txt", "t/tracked.txt", "top.txt", "u.txt"]
    assert pair.cof("status", "--porcelain").stdout == (
        "A  a/f.txt\nA  t/new.txt\nA  u.txt\n?? a/inner/\n?? e/\n?? sub/\n"
    )
    assert pair.cof("add", "sub").stderr == "warning: not adding embedded repository: sub\n"
    # A name that is not UTF-8: listed by its bytes, named raw in the warning (as git).
    odd = os.fsdecode(b"r\xff")
    embed(pair, odd, "git")
    apply(pair, {f"{odd}/z.txt": b"z\n"})
    for tool in (pair.git, pair.cof):
        assert '?? "r\\377/"\n' in tool("status", "--porcelain").stdout
    added = subprocess.run(
        [sys.executable, "-m", "cofctl", "add", "-A"], cwd=pair.cof_root,
        env=pair.sandbox.env, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert added.stderr.splitlines() == [
        b"warning: not adding embedded repository: " + p
        for p in (b"a/inner", b"e", b"r\xff", b"sub")
    ]


def test_add_force_stages_ignored_files_but_no_repository(pair: GitPair) -> None:
    """``add -f DIR`` walked every file below DIR, an embedded repository's ``.git``
    included (and then listed those files as deleted, status never seeing them)."""
    apply(pair, {".gitignore": b"*.log\n", ".cofignore": b"*.log\n", "top.txt": b"t\n"})
    commit_both(pair, "base")
    embed(pair, "d/g", "git")
    embed(pair, "d/c", "cof")
    apply(pair, {"d/i.log": b"i\n", "d/k.txt": b"k\n", "d/g/x.txt": b"x\n", "d/c/y.txt": b"y\n"})
    for path in ("d/g", "d/c"):
        pair.git("-C", path, "commit", "-q", "--allow-empty", "-m", "inner")
    _, c = pair.both(["add", "-f", "d"])
    assert c.stderr.splitlines() == [
        f"warning: not adding embedded repository: {path}" for path in ("d/c", "d/g")
    ]
    git, cof = staged_files(pair)
    assert cof == git == [".cofignore", ".gitignore", "d/i.log", "d/k.txt", "top.txt"]
    assert pair.cof("status", "--porcelain").stdout == "A  d/i.log\nA  d/k.txt\n?? d/c/\n?? d/g/\n"


RM_NAMES = ["a b", "t\tab", "é", 'q"uote', "back\\slash", "d é/f g"]


def test_rm_prints_each_path_raw_as_git(pair: GitPair) -> None:
    for name in RM_NAMES:
        pair.write(name, b"x\n")
    commit_both(pair, "names")
    out = same_bytes(pair, "", ["rm", "--cached", "--", *RM_NAMES[:-1]])
    assert b"rm 't\tab'\n" in out and "rm 'é'\n".encode() in out, out
    # From a subdirectory: the repository path, as git.
    assert same_bytes(pair, "d é", ["rm", "f g"]) == "rm 'd é/f g'\n".encode()


def test_long_status_hints_follow_the_changes_as_git(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n", "b.txt": b"b\n", "c.txt": b"c\n"})
    commit_both(pair, "base")
    apply(pair, {"b.txt": b"b2\n"})
    same_output(pair, ["status"])  # a modification only: "add"
    apply(pair, {"a.txt": None})
    out = same_output(pair, ["status"])  # a deletion among them: "add/rm"
    assert '(use "cof add/rm <file>..." to update what will be committed)' in out, out
    pair.both(["rm", "-q", "--cached", "c.txt"], ["rm", "--cached", "c.txt"])
    apply(pair, {"new.txt": b"n\n"})
    same_output(pair, ["status"])  # a staged deletion and an untracked file beside
    same_output(pair, ["status", "-uno"])


def test_unmerged_hints_follow_the_conflicts_as_git(pair: GitPair) -> None:
    """While merging: no hint to unstage, "add" or "add/rm" by the conflicts' kinds,
    and git's two hints under "You have unmerged paths."."""
    fork(
        pair,
        {"c.txt": lines("c"), "x.txt": lines("x"), "clean.txt": lines("k")},
        {"c.txt": lines("c ours")},
        {"c.txt": lines("c theirs"), "clean.txt": lines("k theirs")},
    )
    pair.both(["merge", "side"])  # both stop: exit 1 as exit 1
    out = same_output(pair, ["status"])
    assert '(use "cof merge --abort" to abort the merge)' in out, out
    apply(pair, {"c.txt": lines("c both")})
    pair.both(["add", "c.txt"])
    same_output(pair, ["status"])  # all fixed, still merging
    pair.both(["commit", "-q", "-m", "merged"])
    pair.sync_refs()
    # Modified on one side, deleted on the other: "add/rm ... as appropriate".
    pair.both(["checkout", "-q", "side"], ["checkout", "side"])
    apply(pair, {"x.txt": None})
    commit_both(pair, "side deletes x")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])
    apply(pair, {"x.txt": lines("x ours")})
    commit_both(pair, "main changes x")
    pair.both(["merge", "side"])
    out = same_output(pair, ["status"])
    assert '(use "cof add/rm <file>..." as appropriate to mark resolution)' in out, out


def test_unmerged_hints_outside_a_merge_as_git(pair: GitPair) -> None:
    """A conflicted ``stash apply`` is no merge: git offers to unstage there too."""
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    apply(pair, {"a.txt": b"a1\n"})
    pair.both(["stash", "-q"])
    apply(pair, {"a.txt": b"a2\n"})
    commit_both(pair, "two")
    pair.both(["stash", "apply"])  # both stop on the conflict
    out = same_output(pair, ["status"])
    assert '(use "cof restore --staged <file>..." to unstage)' in out, out


def test_add_names_a_file_that_is_not_utf8_as_status_lists_it(pair: GitPair) -> None:
    bad = b"bad\xffname"
    for root in (pair.git_root, pair.cof_root):
        (root / os.fsdecode(bad)).write_bytes(b"x\n")
    listed = pair.git("status", "--porcelain").stdout
    assert listed == '?? "bad\\377name"\n'
    for args in (["add", "-A"], ["add", os.fsdecode(bad)]):
        refused = pair.cof(*args, check=False)
        assert refused.returncode != 0
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert listed[3:-1] in refused.stderr and "\\x" not in refused.stderr, refused.stderr


def test_ls_files_json_lists_what_the_text_lists(pair: GitPair) -> None:
    apply(pair, {"a b.txt": b"a\n", "d/é.txt": b"e\n", "d/k.txt": b"k\n"})
    commit_both(pair, "base")
    embed(pair, "d/inner", "cof")
    apply(pair, {"d/u.txt": b"u\n", "d/k.txt": b"k2\n"})
    for where, args in (
        ("", ["ls-files"]),
        ("", ["ls-files", "-o", "-m"]),
        ("d", ["ls-files", "-c", "-o", "-m"]),
        ("d", ["ls-files", "-o", ".."]),
    ):
        git_out = git_in(pair, where, [*args, "-z"])
        cof_json = cof_in(pair, where, [*args, "--json"])
        expected = [p.decode() for p in git_out.split(b"\0")[:-1]]
        assert [item["path"] for item in json.loads(cof_json)] == expected, (where, args)


def test_ls_files_json_stage_rows_as_git(pair: GitPair) -> None:
    """-s: mode and stage as git's (ids are cof's own), a conflict's sides included."""
    fork(pair, {"c.txt": lines("c")}, {"c.txt": lines("ours")}, {"c.txt": lines("theirs")})
    pair.both(["merge", "side"])
    git_rows = [line.split("\t", 1) for line in pair.git("ls-files", "-s").stdout.splitlines()]
    expected_rows = [(head.split()[0], int(head.split()[2]), path) for head, path in git_rows]
    cof_rows = json.loads(pair.cof("ls-files", "-s", "--json").stdout)
    assert [(r["mode"], r["stage"], r["path"]) for r in cof_rows] == expected_rows
    text = pair.cof("ls-files", "-s").stdout.splitlines()
    assert [f"{r['mode']} {r['id']} {r['stage']}\t{r['path']}" for r in cof_rows] == text


def test_rev_parse_json_answers_in_argument_order(pair: GitPair) -> None:
    apply(pair, {"d/x.txt": b"x\n"})
    commit_both(pair, "base")
    args = ["--show-prefix", "HEAD", "--is-inside-work-tree", "main", "--show-toplevel"]
    cof = pair.sandbox.cof
    answers = json.loads(cof("rev-parse", "--json", *args, cwd=pair.cof_root / "d").stdout)
    assert [a["arg"] for a in answers] == args
    text = cof("rev-parse", *args, cwd=pair.cof_root / "d").stdout.splitlines()
    values = [a["value"] for a in answers]
    assert [str(v).lower() if isinstance(v, bool) else v for v in values] == text
    assert answers[0]["value"] == "d/" and answers[2]["value"] is True
    git_text = git_in(pair, "d", ["rev-parse", "--show-prefix", "--is-inside-work-tree"])
    assert git_text.decode().splitlines() == ["d/", "true"]
    # No line for an id under --symbolic-full-name (git prints none either): null.
    head = answers[1]["value"]
    named = json.loads(pair.cof("rev-parse", "--json", "--symbolic-full-name", "HEAD", head).stdout)
    assert named == [{"arg": "HEAD", "value": "refs/heads/main"}, {"arg": head, "value": None}]
    git_head = pair.git("rev-parse", "HEAD").stdout.strip()
    assert pair.git("rev-parse", "--symbolic-full-name", "HEAD", git_head).stdout == (
        "refs/heads/main\n"
    )
