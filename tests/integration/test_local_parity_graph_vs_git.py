"""``log --graph --stat``: the stat of each commit but a merge under it, beside the
lanes that continue, as git places it; and a message's blank lines indented as git's
``log`` indents them (compared with git). cof's graph rows are its own drawing (no
padding rows between commits, no padding after a merge's ``*``), so the graph output
is checked for its structure, not against git's bytes. Ids and dates are masked."""

from __future__ import annotations

import re

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name

_IDS = re.compile(r"\b[0-9a-f]{7,64}\b")
_DATES = re.compile(r"Date:   .*")


def masked(text: str) -> str:
    return _DATES.sub("Date: <date>", _IDS.sub("<id>", text))


def test_log_graph_stat_matches_git(pair: GitPair) -> None:
    apply(pair, {"a": b"a\n"})
    commit_both(pair, "one")
    pair.both(["checkout", "-q", "-b", "side"], ["checkout", "-b", "side"])
    apply(pair, {"b": b"b\n"})
    commit_both(pair, "two")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])
    apply(pair, {"c": b"c\n", "a": b"a\naa\n"})
    commit_both(pair, "three")
    pair.both(["merge", "-q", "--no-edit", "side"], ["merge", "-q", "side"])
    apply(pair, {"d": b"d\n"})
    pair.both(["add", "-A"])
    pair.both(["commit", "-q", "-m", "four", "-m", "with a body"])
    rows = masked(pair.cof("log", "--graph", "--oneline", "--stat").stdout).splitlines()
    assert rows == [
        "* <id> (HEAD -> main) four",
        "|  d | 1 +",
        "|  1 file changed, 1 insertion(+)",
        "* <id> Merge branch 'side'",  # a merge: no stat, as git
        "|\\",
        "| * <id> (side) two",
        "| |  b | 1 +",
        "| |  1 file changed, 1 insertion(+)",
        "* | <id> three",
        "| |  a | 1 +",
        "| |  c | 1 +",
        "| |  2 files changed, 2 insertions(+)",
        "|/",
        "* <id> one",
        "   a | 1 +",
        "   1 file changed, 1 insertion(+)",
    ]
    full = masked(pair.cof("log", "--graph", "--stat").stdout).splitlines()
    two = full.index("| * commit <id> (side)")
    assert full[two + 4 : two + 8] == [
        "| |     two",
        "| |",
        "| |  b | 1 +",
        "| |  1 file changed, 1 insertion(+)",
    ]
    # Without --graph too, a blank line of a message is indented, as git's (only the
    # newest commit: the order of commits made in one second is git's own).
    g, c = pair.both(["log", "--decorate", "--stat", "-n", "1"], ["log", "--stat", "-n", "1"])
    assert masked(c.stdout) == masked(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"
