"""``--stat`` laid out as git lays it out, checked against the real git binary:
``diff --stat`` and ``log --stat`` (count column as wide as the largest count, the
``+``/``-`` graph scaled to fit 80 columns, long names cut behind ``...``), and no
diffstat for a merge commit in ``log --stat``.

Binary files keep cof's own detail (sizes and changed blocks, where git prints
``Bin X -> Y bytes``) but sit in git's columns: the name padded as the others, ``Bin``
right-aligned in the count column, which is at least three wide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.conftest import CofSandbox
from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import commit_both, fork

_IDS = re.compile(r"\b[0-9a-f]{7,64}\b")
_DATE = re.compile(r"^(Date: +).*$", re.MULTILINE)


@pytest.fixture
def pair(sandbox: CofSandbox) -> Iterator[GitPair]:
    sandbox.env.pop("COLUMNS", None)  # not a terminal: git's 80 columns
    yield GitPair(sandbox, "s")


def _mask(text: str) -> str:
    return _DATE.sub(r"\1<date>", _IDS.sub("<id>", text))


def same_stat(pair: GitPair, args: list[str]) -> str:
    # cof always decorates log lines; git only on a terminal unless asked.
    git_args = [args[0], "--decorate", *args[1:]] if args[0] == "log" else args
    g, c = pair.both(git_args, args)
    assert _mask(c.stdout) == _mask(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"
    return c.stdout


def numbered(first: int, count: int) -> bytes:
    return "".join(f"{i}\n" for i in range(first, first + count)).encode()


def test_log_stat_shows_no_diffstat_for_a_merge(pair: GitPair) -> None:
    fork(pair, {"a.txt": b"a\n"}, {"b.txt": b"ours\n"}, {"c.txt": b"theirs\n"})
    pair.both(["merge", "-q", "--no-edit", "side"], ["merge", "-q", "side"])
    pair.sync_refs()
    # The merge and the side's commit (commits made in one second have no set order).
    out = same_stat(pair, ["log", "--stat", "HEAD~1..HEAD"])
    assert "Merge branch 'side'\n\ncommit " in out
    oneline = same_stat(pair, ["log", "--oneline", "--stat", "HEAD~1..HEAD"])
    assert "Merge branch 'side'\n<id> (side) theirs\n c.txt | 1 +\n" in _mask(oneline)


def test_stat_counts_are_as_wide_as_the_largest(pair: GitPair) -> None:
    pair.write("f", b"one\n")
    commit_both(pair, "one")
    out = same_stat(pair, ["log", "--stat"])
    assert " f | 1 +\n 1 file changed, 1 insertion(+)\n" in out
    pair.write("f", b"two\n")
    pair.write("g", numbered(0, 12))
    pair.write("empty", b"")
    assert (
        same_stat(pair, ["diff", "--stat"])
        == " f | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n"
    )
    pair.both(["add", "-A"])
    out = same_stat(pair, ["diff", "--cached", "--stat"])
    assert out.splitlines()[:3] == [" empty |  0", " f     |  2 +-", " g     | 12 ++++++++++++"]


def test_stat_graph_scales_to_eighty_columns(pair: GitPair) -> None:
    pair.write("small", numbered(0, 3))
    pair.write("mid", numbered(0, 90))
    pair.write("big", numbered(0, 1500))
    commit_both(pair, "many lines")
    same_stat(pair, ["log", "--stat"])
    # Added and deleted lines both scaled, each keeping at least one column.
    pair.write("big", numbered(700, 1500))
    pair.write("mid", numbered(1, 60))
    pair.write("small", numbered(0, 2) + b"x\n")
    out = same_stat(pair, ["diff", "--stat"])
    assert all(len(line) <= 80 for line in out.splitlines()), out
    commit_both(pair, "scaled")
    same_stat(pair, ["log", "--stat", "-n", "1"])


def test_stat_cuts_long_names_and_many_files(pair: GitPair) -> None:
    for i in range(30):
        pair.write(f"dir{i % 3}/file-{i:02}.txt", numbered(0, i * 7 + 1))
    deep = "a-rather-long-directory-name/another-long-directory-name/and-a-long-file-name.txt"
    pair.write(deep, numbered(0, 300))
    pair.write("x" * 75, numbered(0, 5))  # no slash: cut anywhere
    commit_both(pair, "wide")
    out = same_stat(pair, ["log", "--stat"])
    assert " .../and-a-long-file-name.txt " in out
    pair.write(deep, numbered(5, 300))
    pair.write("dir0/file-00.txt", b"")
    same_stat(pair, ["diff", "--stat"])
    same_stat(pair, ["diff", "--stat", "HEAD"])


def test_binary_detail_sits_in_gits_columns(pair: GitPair) -> None:
    pair.write("blob.bin", b"\0" * 4096)
    pair.write("notes.txt", numbered(0, 2))
    commit_both(pair, "mixed")
    pair.write("blob.bin", b"\0\1" * 3000)
    pair.write("notes.txt", numbered(0, 3))
    g = pair.git("diff", "--stat").stdout.splitlines()
    c = pair.cof("diff", "--stat").stdout.splitlines()
    assert g[0].startswith(" blob.bin  | Bin 4096 -> 6000 bytes"), g
    assert re.fullmatch(r" blob\.bin  \| Bin \d.* -> .* \(\d+ of \d+ blocks changed\)", c[0]), c
    assert c[1:] == g[1:] == [" notes.txt |   1 +", " 2 files changed, 1 insertion(+)"]
