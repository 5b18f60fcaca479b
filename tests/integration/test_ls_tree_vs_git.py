"""Differential tests: ``cof ls-tree`` against ``git ls-tree``.

The lines must be git's but for the object ids (cof's are BLAKE3 content ids, 64
digits): modes, types, sizes, names (quoted as git quotes them) and their order
(git's: a directory sorts as ``name/``, so ``a.txt`` before ``a``). Ids are checked
as ids: 64 hex digits, equal contents equal ids.
"""

from __future__ import annotations

import os
import re

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, pair
from tests.integration.test_rev_parse_vs_git import git_in

__all__ = ["pair"]  # a fixture, used by name

ID = re.compile(r"^(\d{6} \w+ )([0-9a-f]+)( |\t)", re.MULTILINE)


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
