"""Differential tests: ``cof ls-tree`` against ``git ls-tree``.

The lines must be git's but for the object ids (cof's are BLAKE3 content ids, 64
digits): modes, types, sizes, names (quoted as git quotes them) and their order
(git's: a directory sorts as ``name/``, so ``a.txt`` before ``a``). Ids are checked
as ids: 64 hex digits, equal contents equal ids, each the id ``cof rev-parse
REV:PATH`` gives. Output options (``-z``, ``--format``, ``--abbrev``, ``--full-name``,
``--full-tree``, ``--object-only``, ``--name-status``) and tree-ishes (``REV:DIR``,
``REV^{tree}``, a tree's id) are compared on bytes with the ids replaced; git runs
with ``core.abbrev=12``, cof's default abbreviation.
"""

from __future__ import annotations

import os
import re
import subprocess

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, pair
from tests.integration.test_rev_parse_vs_git import git_in

__all__ = ["pair"]  # a fixture, used by name

ID = re.compile(r"^(\d{6} \w+ )([0-9a-f]+)( |\t)", re.MULTILINE)
HEX_ID = re.compile(rb"\b[0-9a-f]{5,64}\b")  # no name in the scenario is 5 hex digits
Run = tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes]]
# Every placeholder and literal git's ls-tree --format knows.
FORMAT = (
    "%(objectmode) %(objecttype) %(objectsize) [%(objectsize:padded)]%x09%(path)%%%n%(objectname)"
)
# The names whose listed ids are checked with rev-parse (it takes names unquoted).
PLAIN_NAMES = ["a.txt", "a", "c:d", "d", "d/e", "d/e/f", "d/g", "d/same", "link", "run"]


def same_listing(pair: GitPair, *args: str, cwd: str = "") -> None:
    git = git_in(pair, pair.git_root / cwd, "ls-tree", *args)
    cof = pair.sandbox.cof("ls-tree", *args, cwd=pair.cof_root / cwd, check=False)
    assert (git.returncode, cof.returncode) == (0, 0), (args, git.stderr, cof.stderr)
    git_ids = ID.findall(git.stdout)
    cof_ids = ID.findall(cof.stdout)
    assert all(len(i) == 64 for _, i, _ in cof_ids), cof.stdout
    # Equal ids in git where equal in cof (same content, same mode kind).
    assert len({g[1] for g in git_ids}) == len({c[1] for c in cof_ids})
    assert ID.sub(r"\1ID\3", cof.stdout) == ID.sub(r"\1ID\3", git.stdout), (
        f"ls-tree {args} in '{cwd}'\ngit:\n{git.stdout}cof:\n{cof.stdout}"
    )


def test_ls_tree_lists_as_git_does(pair: GitPair) -> None:
    apply(
        pair,
        {
            "a.txt": b"a\n",
            "a/x": b"x\n",
            "d/e/f": b"f\n",
            "d/g": b"g\n",
            "d/same": b"a\n",
            "run": b"#!/bin/sh\n",
            "t\tab": b"t\n",
            "\u00e9t\u00e9": b"\xff\x00binary",
            'q"uote': b"q\n",
            "sp ace": b"",
            "c:d/x": b"colon\n",
        },
    )
    for root in (pair.git_root, pair.cof_root):
        os.chmod(root / "run", 0o755)
        os.symlink("d/g", root / "link")
    commit_both(pair, "one")
    apply(pair, {"d/g": b"changed\n"})
    commit_both(pair, "two")

    for args in (
        ["HEAD"],
        ["-r", "HEAD~1"],
        ["-d", "HEAD"],
        ["-r", "-d", "HEAD"],
        ["-r", "-t", "HEAD"],
        ["-l", "-r", "HEAD"],
        ["--name-only", "-r", "HEAD"],
        ["HEAD", "d", "a.txt", "nope"],
        ["HEAD", "d/", "d/e/f"],
        ["-r", "main", "d/e"],
    ):
        same_listing(pair, *args)
    same_listing(pair, "HEAD", cwd="d")
    same_listing(pair, "-l", "HEAD", "../a.txt", "e", cwd="d")

    git = git_in(pair, pair.git_root, "ls-tree", "nosuchrev")
    cof = pair.sandbox.cof("ls-tree", "nosuchrev", cwd=pair.cof_root, check=False)
    assert git.returncode != 0 and cof.returncode != 0
    assert len(cof.stderr.splitlines()) == 1 and cof.stdout == ""
    output_options_as_git(pair)


def ls_tree_both(pair: GitPair, git_args: list[str], cof_args: list[str], cwd: str = "") -> Run:
    """``ls-tree`` in both, bytes out; git with ``core.abbrev=12``."""
    return pair.both_bytes(
        ["-c", "core.abbrev=12", "ls-tree", *git_args], cwd, ["ls-tree", *cof_args]
    )


def same_bytes(
    pair: GitPair, *args: str, cwd: str = "", git_args: list[str] | None = None
) -> bytes:
    """cof's output, once checked to be git's but for the ids."""
    git, cof = ls_tree_both(pair, git_args or list(args), list(args), cwd)
    assert (git.returncode, cof.returncode) == (0, 0), (args, git.stderr, cof.stderr)
    assert HEX_ID.sub(b"ID", cof.stdout) == HEX_ID.sub(b"ID", git.stdout), (
        f"ls-tree {args} in '{cwd}'\ngit:\n{git.stdout!r}\ncof:\n{cof.stdout!r}"
    )
    return cof.stdout


def output_options_as_git(pair: GitPair) -> None:
    cof_ids = pair.cof("rev-parse", *(f"HEAD:{name}" for name in PLAIN_NAMES)).stdout.split()

    records = same_bytes(pair, "-z", "-l", "--abbrev", "-r", "-t", "HEAD").split(b"\0")
    assert records[-1] == b"" and {len(r.split()[2]) for r in records[:-1]} == {12}
    ids = same_bytes(pair, "--object-only", "-r", "--abbrev=5", "-z", "HEAD").split(b"\0")
    assert {len(i) for i in ids[:-1]} == {5}
    listed = same_bytes(pair, f"--format={FORMAT}", "-r", "-t", "HEAD").decode().split("\n")
    paths = [line.split("\t")[1].rpartition("%")[0] for line in listed[0:-1:2]]
    shown = dict(zip(paths, listed[1::2], strict=True))
    assert [shown[name] for name in PLAIN_NAMES] == cof_ids  # ids are rev-parse's
    assert {len(i) for i in shown.values()} == {64}

    same_bytes(pair, "--name-status", "--full-name", "-r", "HEAD", "../a.txt", "e", cwd="d")
    same_bytes(pair, "--full-tree", "--name-only", "HEAD", "a.txt", "d/e", cwd="d")
    same_bytes(pair, "HEAD^{tree}", cwd="d")  # the prefix applies to any tree: d's
    same_bytes(pair, "-r", "HEAD:c:d")  # REV:PATH splits at the first colon
    git_tree = pair.git("rev-parse", "HEAD:d").stdout[:12]
    same_bytes(pair, "-l", cof_ids[PLAIN_NAMES.index("d")][:12], git_args=["-l", git_tree])

    for args in (
        ["--format=%(path)", "-l", "HEAD"],
        ["--name-only", "--object-only", "HEAD"],
        ["--format=%(objectname:short)", "HEAD"],
        ["HEAD:a.txt"],  # not a tree
    ):
        git, cof = ls_tree_both(pair, args, args)
        assert git.returncode != 0 and cof.returncode != 0, args
        assert cof.stdout == b"" and len(cof.stderr.splitlines()) == 1, (args, cof.stderr)
