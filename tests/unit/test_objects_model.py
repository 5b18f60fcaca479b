"""Commit and Tree: canonical encodings, validation on decode, author parsing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cofd.objects.encoding import encode
from cofd.objects.model import (
    MODE_DIR,
    MODE_EXEC,
    MODE_FILE,
    MODE_SYMLINK,
    Commit,
    CommitId,
    Kind,
    Signature,
    Tree,
    TreeEntry,
    TreeId,
    parse_author,
    validate_name,
)
from cofd.store.ids import BlockId
from protocol.errors import IntegrityError

ID = BlockId(b"\x42" * 32)

names = st.text(
    st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
).filter(lambda n: n not in (".", "..", ".cof"))
kinds_modes = st.sampled_from(
    [
        (Kind.FILE, MODE_FILE),
        (Kind.FILE, MODE_EXEC),
        (Kind.DIR, MODE_DIR),
        (Kind.SYMLINK, MODE_SYMLINK),
    ]
)
ids = st.binary(min_size=32, max_size=32).map(BlockId)


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    chosen = draw(st.lists(names, max_size=12, unique=True))
    entries = []
    for name in chosen:
        kind, mode = draw(kinds_modes)
        entries.append(TreeEntry(name, kind, mode, draw(ids), draw(st.integers(0, 2**63))))
    return Tree.build(entries)


signatures = st.builds(
    Signature,
    st.text(max_size=20),
    st.text(max_size=20),
    st.integers(-(2**40), 2**40),
    st.integers(-(24 * 60) + 1, 24 * 60 - 1),
)
commits = st.builds(
    Commit,
    st.lists(ids.map(CommitId), max_size=4).map(tuple),
    ids.map(TreeId),
    signatures,
    signatures,
    st.text(max_size=200),
    st.integers(1, 2**40),
)


@settings(max_examples=200, deadline=None)
@given(trees())
def test_tree_round_trip(tree: Tree) -> None:
    data = tree.encode()
    assert Tree.decode(data) == tree
    assert Tree.decode(data).encode() == data


@settings(max_examples=200, deadline=None)
@given(commits)
def test_commit_round_trip(commit: Commit) -> None:
    data = commit.encode()
    assert Commit.decode(data) == commit
    assert Commit.decode(data).encode() == data


def test_tree_build_sorts_by_utf8_bytes() -> None:
    entries = [TreeEntry(n, Kind.FILE, MODE_FILE, ID, 1) for n in ["b", "é", "a", "Z", "a0"]]
    tree = Tree.build(entries)
    assert [e.name for e in tree.entries] == ["Z", "a", "a0", "b", "é"]


def raw_tree(*entries: list[object]) -> bytes:
    return encode("tree", [list(entries)])


def entry(name: object, kind: object = 0, mode: object = MODE_FILE, size: object = 3) -> list:
    return [name, kind, mode, ID, size]


@pytest.mark.parametrize("name", ["", ".", "..", ".cof", "a/b", "/", "nul\0byte", "x" * 256])
def test_tree_rejects_bad_names(name: str) -> None:
    assert validate_name(name) is not None
    with pytest.raises(IntegrityError, match="invalid entry name"):
        Tree.decode(raw_tree(entry(name)))


@pytest.mark.parametrize("name", ["a", ".cofignore", "..x", "x" * 255, "é" * 127, " "])
def test_tree_accepts_good_names(name: str) -> None:
    assert validate_name(name) is None
    assert Tree.decode(raw_tree(entry(name))).entries[0].name == name


def test_tree_rejects_unsorted_and_duplicate_entries() -> None:
    with pytest.raises(IntegrityError, match="sorted and unique"):
        Tree.decode(raw_tree(entry("b"), entry("a")))
    with pytest.raises(IntegrityError, match="sorted and unique"):
        Tree.decode(raw_tree(entry("a"), entry("a")))
    with pytest.raises(IntegrityError, match="sorted and unique"):
        Tree.decode(raw_tree(entry("é"), entry("z")))  # byte order, not code point order


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        (0, 0o100600),
        (0, MODE_DIR),
        (1, MODE_FILE),
        (2, MODE_FILE),
        (3, MODE_FILE),
        (-1, MODE_FILE),
        (0, "100644"),
    ],
)
def test_tree_rejects_bad_kind_or_mode(kind: object, mode: object) -> None:
    with pytest.raises(IntegrityError, match="invalid kind or mode"):
        Tree.decode(raw_tree(entry("f", kind, mode)))


@pytest.mark.parametrize(
    "bad",
    [
        ["f", 0, MODE_FILE, b"\x00" * 31, 1],
        ["f", 0, MODE_FILE, "hex", 1],
        ["f", 0, MODE_FILE, ID, -1],
        ["f", 0, MODE_FILE, ID, "1"],
        ["f", 0, MODE_FILE, ID],
        "f",
        [5, 0, MODE_FILE, ID, 1],
    ],
)
def test_tree_rejects_malformed_entries(bad: object) -> None:
    with pytest.raises(IntegrityError):
        Tree.decode(raw_tree(bad))  # type: ignore[arg-type]


def test_decode_rejects_wrong_tag_version_and_garbage() -> None:
    tree = Tree.build([TreeEntry("a", Kind.FILE, MODE_FILE, ID, 1)])
    commit = Commit((), TreeId(ID), Signature("a", "b", 1, 0), Signature("a", "b", 1, 0), "m", 1)
    with pytest.raises(IntegrityError, match="not a commit"):
        Commit.decode(tree.encode())
    with pytest.raises(IntegrityError, match="not a tree"):
        Tree.decode(commit.encode())
    with pytest.raises(IntegrityError, match="format version"):
        Tree.decode(b"\x93\xa4tree\x02\x90")
    for garbage in (b"", b"\xc1", commit.encode() + b"\x00"):
        with pytest.raises(IntegrityError):
            Commit.decode(garbage)


@pytest.mark.parametrize(
    "fields",
    [
        [[b"short"], ID, ["a", "b", 1, 0], ["a", "b", 1, 0], "m", 1],
        [[ID] * 17, ID, ["a", "b", 1, 0], ["a", "b", 1, 0], "m", 1],
        [[], b"x", ["a", "b", 1, 0], ["a", "b", 1, 0], "m", 1],
        [[], ID, ["a", "b", 1], ["a", "b", 1, 0], "m", 1],
        [[], ID, ["a", "b", 1, 24 * 60], ["a", "b", 1, 0], "m", 1],
        [[], ID, ["a", "b", 1, 0], ["a", "b", "1", 0], "m", 1],
        [[], ID, ["a", "b", 1, 0], ["a", "b", 1, 0], b"m", 1],
        [[], ID, ["a", "b", 1, 0], ["a", "b", 1, 0], "m", 0],
    ],
)
def test_commit_rejects_malformed_fields(fields: list[object]) -> None:
    with pytest.raises(IntegrityError):
        Commit.decode(encode("commit", fields))


def test_commit_summary() -> None:
    sig = Signature("a", "b", 1, 0)
    assert Commit((), TreeId(ID), sig, sig, "first line\n\nbody\n", 1).summary == "first line"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ada Lovelace <ada@example.org>", ("Ada Lovelace", "ada@example.org")),
        ("  Ada   <ada@x>  ", ("Ada", "ada@x")),
        ("A <>", ("A", "")),
        ("Ada", None),
        ("<ada@x>", None),
        ("Ada <ada@x", None),
        ("Ada <a<b>", None),
        ("Ada <ada@x> trailing", None),
        ("", None),
    ],
)
def test_parse_author(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_author(text) == expected


def test_signature_format() -> None:
    assert Signature("Ada", "ada@x", 0, 60).format() == "Ada <ada@x>"
