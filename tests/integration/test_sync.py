"""Peer sync between two (or three) real cofd processes on loopback.

Each daemon has its own COF_HOME and UDP port (``[peer] listen`` in its user config);
the serving one shares a repository and grants the others' keys. Hostile peers are
played by a small in-test server built on the sans-I/O protocol and a real socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cofd.objects.model import MODE_FILE, Commit, Kind, Signature, Tree, TreeEntry, TreeId
from cofd.store.ids import BlockId, hash_block
from cofd.sync.transfer import CHECKPOINT_SECONDS
from protocol.peer import events as ev
from protocol.peer import limits, wire
from protocol.peer import messages as m
from protocol.peer.connection import Connection
from protocol.peer.crypto import Identity
from protocol.peer.listener import Listener
from tests.integration.conftest import CofSandbox
from tests.integration.treekit import sha256_file, write_random
from tests.unit.faulty import small_tmpfs

FAST_NETWORK = "[network]\ntimeout_ms = 400\nmax_retries = 1\n"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Peer:
    """One daemon (sandbox) with a UDP port and an identity for commits."""

    def __init__(self, box: CofSandbox, name: str, extra_config: str = "") -> None:
        self.box = box
        self.port = free_udp_port()
        box.home.mkdir(parents=True, exist_ok=True)
        (box.home / "config.toml").write_text(
            f'[peer]\nlisten = "127.0.0.1:{self.port}"\n{extra_config}'
        )
        box.env["COF_AUTHOR_NAME"] = name
        box.env["COF_AUTHOR_EMAIL"] = f"{name.lower()}@example.com"
        self.key = self.cof("peer", "key").stdout.strip()

    def cof(self, *args: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.box.cof(*args, **kw)

    def url(self, name: str) -> str:
        return f"cof://{self.key}@127.0.0.1:{self.port}/{name}"

    def popen(self, *args: str, cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cofctl", *args],
            cwd=cwd,
            env=self.box.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def make_origin(server: Peer, files: dict[str, bytes], share: str = "proj") -> Path:
    repo = server.box.work / "origin"
    server.cof("init", repo)
    for rel, data in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    server.cof("add", "-A", cwd=repo)
    server.cof("commit", "-q", "-m", "initial", cwd=repo)
    server.cof("share", share, cwd=repo)
    return repo


def share_and_clone(
    server: Peer,
    client: Peer,
    files: dict[str, bytes],
    right: str = "--read",
    branch: str | None = None,
) -> tuple[Path, Path]:
    """``server``'s repository of ``files`` (with ``branch`` made at its HEAD), shared
    as proj, granted to ``client`` with ``right`` and cloned by it into ``copy``:
    (origin, copy)."""
    origin = make_origin(server, files)
    if branch is not None:
        server.cof("branch", branch, cwd=origin)
    server.cof("peer", "grant", client.key, "proj", right)
    client.cof("clone", server.url("proj"), "copy")
    return origin, client.box.work / "copy"


def commit_file(peer: Peer, repo: Path, rel: str, data: bytes, message: str) -> str:
    (repo / rel).write_bytes(data)
    peer.cof("add", rel, cwd=repo)
    peer.cof("commit", "-q", "-m", message, cwd=repo)
    return head_of(peer, repo)


def head_of(peer: Peer, repo: Path) -> str:
    return json.loads(peer.cof("log", "-n", "1", "--json", cwd=repo).stdout)[0]["id"]


@pytest.fixture
def pair(sandbox_factory: Callable[[], CofSandbox]) -> tuple[Peer, Peer]:
    return Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")


def test_clone_commit_push_pull_and_idle_fetch(pair: tuple[Peer, Peer]) -> None:
    alice, bob = pair
    files = {"big.bin": os.urandom(300_000), "notes.txt": b"hello\n", "dir/x": b"x\n"}
    origin = make_origin(alice, files)
    alice.cof("peer", "grant", bob.key, "proj", "--write")

    cloned = bob.cof("clone", alice.url("proj"), "copy", "--json")
    result = json.loads(cloned.stdout)
    copy = bob.box.work / "copy"
    for rel, data in files.items():
        assert (copy / rel).read_bytes() == data
    assert result["fetch"]["stats"]["blocks"] == result["fetch"]["stats"]["listed"] > 75
    assert bob.cof("status", "--porcelain", cwd=copy).stdout == ""

    # Bob commits and pushes; Alice's checked-out branch (and clean worktree) follow.
    new_id = commit_file(bob, copy, "notes.txt", b"hello from bob\n", "bob edits")
    pushed = bob.cof("push", cwd=copy)
    assert "main" in pushed.stdout and "sent" in pushed.stderr
    assert head_of(alice, origin) == new_id
    assert (origin / "notes.txt").read_bytes() == b"hello from bob\n"

    # Alice commits; Bob pulls (fetch + fast-forward); progress summary on stderr.
    alice_id = commit_file(alice, origin, "alice.txt", b"alice\n", "alice adds")
    pulled = bob.cof("pull", cwd=copy)
    assert "Received 3 blocks" in pulled.stderr
    assert head_of(bob, copy) == alice_id
    assert (copy / "alice.txt").read_bytes() == b"alice\n"

    # Nothing new: a second fetch moves no block data at all.
    again = json.loads(bob.cof("fetch", "--json", cwd=copy).stdout)
    assert again["stats"]["blocks"] == 0 and again["stats"]["bytes"] == 0
    assert again["updated"] == []
    assert again["wire"]["received"] < 2000  # handshake and the ref list only
    quiet = bob.cof("fetch", cwd=copy)
    assert (quiet.stdout, quiet.stderr) == ("", "")  # as git: nothing to say


def test_clone_again_after_removing_the_clone(pair: tuple[Peer, Peer]) -> None:
    """``rm -rf copy && cof clone ... copy`` with the same daemon: the second clone is
    what later commands see (they used to read the first one's unlinked index:
    "block ... is missing from the store")."""
    alice, bob = pair
    _, copy = share_and_clone(alice, bob, {"a.bin": os.urandom(50_000)})
    assert bob.cof("status", "--porcelain", cwd=copy).stdout == ""  # the daemon opened it
    shutil.rmtree(copy)
    bob.cof("clone", alice.url("proj"), "copy")
    assert bob.cof("status", "--porcelain", cwd=copy).stdout == ""
    mine = commit_file(bob, copy, "b.txt", b"b\n", "after the second clone")
    assert head_of(bob, copy) == mine
    bob.cof("fsck", cwd=copy)  # exits 10 on any problem


def two_writers(
    sandbox_factory: Callable[[], CofSandbox],
) -> tuple[Peer, Peer, Peer, Path, Path, Path]:
    """Alice serves ``proj`` (one commit of f.txt); Bob and Carol may write to it and
    have cloned it: ``(alice, bob, carol, origin, bob's copy, carol's copy)``."""
    alice, bob, carol = (Peer(sandbox_factory(), n) for n in ("Alice", "Bob", "Carol"))
    origin = make_origin(alice, {"f.txt": b"base\n"})
    for peer in (bob, carol):
        alice.cof("peer", "grant", peer.key, "proj", "--write")
        peer.cof("clone", alice.url("proj"), "copy")
    return alice, bob, carol, origin, bob.box.work / "copy", carol.box.work / "copy"


def test_conflicting_push_refused_without_force(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    alice, bob, carol, origin, bob_copy, carol_copy = two_writers(sandbox_factory)
    bob_id = commit_file(bob, bob_copy, "f.txt", b"bob\n", "bob")
    bob.cof("push", cwd=bob_copy)
    commit_file(carol, carol_copy, "f.txt", b"carol\n", "carol")

    refused = carol.cof("push", cwd=carol_copy, check=False)
    assert refused.returncode == 7, refused.stderr
    assert "rejected" in refused.stderr and "fetch first" in refused.stderr
    assert head_of(alice, origin) == bob_id

    # Fetched but not merged: the remote refuses a non-fast-forward.
    carol.cof("fetch", cwd=carol_copy)
    refused = carol.cof("push", cwd=carol_copy, check=False)
    assert refused.returncode == 7 and "non-fast-forward" in refused.stderr

    carol.cof("push", "--force", cwd=carol_copy)
    assert head_of(alice, origin) == head_of(carol, carol_copy)
    assert (origin / "f.txt").read_bytes() == b"carol\n"


def test_concurrent_push_exactly_one_wins(sandbox_factory: Callable[[], CofSandbox]) -> None:
    alice, bob, carol = (Peer(sandbox_factory(), n) for n in ("Alice", "Bob", "Carol"))
    origin = make_origin(alice, {"f.txt": b"base\n"})
    heads = {}
    for peer in (bob, carol):
        alice.cof("peer", "grant", peer.key, "proj", "--write")
        peer.cof("clone", alice.url("proj"), "copy")
        copy = peer.box.work / "copy"
        heads[peer.key] = commit_file(peer, copy, "f.txt", os.urandom(200_000), "mine")
    procs = [p.popen("push", cwd=p.box.work / "copy") for p in (bob, carol)]
    outcomes = [(proc.wait(timeout=60), proc.communicate()[1]) for proc in procs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 7], outcomes
    loser_err = next(err for code, err in outcomes if code == 7)
    assert "rejected" in loser_err
    winner = (bob, carol)[[code for code, _ in outcomes].index(0)]
    assert head_of(alice, origin) == heads[winner.key]


def test_interrupted_clone_resumes_with_only_missing_blocks(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    alice = Peer(sandbox_factory(), "Alice")
    bob = Peer(sandbox_factory(), "Bob", FAST_NETWORK)
    data = os.urandom(48 * 1024 * 1024)
    make_origin(alice, {"big.bin": data})
    alice.cof("peer", "grant", bob.key, "proj", "--read")

    proc = bob.popen("clone", alice.url("proj"), "copy", "--json", cwd=bob.box.work)
    objects = bob.box.work / "copy" / ".cof" / "objects"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _tree_size(objects) < 8 * 1024 * 1024:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    pid = alice.box.daemon_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 15, err  # PeerError: the peer stopped responding
    assert "peer 127.0.0.1" in err and "run the same clone again to resume" in err

    alice.cof("peer", "info")  # restarts Alice's daemon (shares and grants persist)
    resumed = json.loads(bob.cof("clone", alice.url("proj"), "copy", "--json").stdout)
    stats = resumed["fetch"]["stats"]
    assert resumed["resumed"] is True
    assert stats["skipped"] > 2000, stats  # > 8 MiB of 4 KiB blocks were kept
    assert stats["blocks"] == stats["listed"] - stats["skipped"]
    assert (bob.box.work / "copy" / "big.bin").read_bytes() == data


def _start_until_stored(
    peer: Peer, args: tuple[str, ...], cwd: Path, receiver: Path, grown: int
) -> subprocess.Popen[str]:
    """Start ``cof ARGS`` and return once ``receiver``'s store has grown by ``grown``
    bytes (the transfer is under way), failing if the command ended first."""
    objects = receiver / ".cof" / "objects"
    start = _tree_size(objects)
    proc = peer.popen(*args, cwd=cwd)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _tree_size(objects) < start + grown:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    return proc


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(dirpath, name)).st_size
    return total


def test_access_control(sandbox_factory: Callable[[], CofSandbox]) -> None:
    alice, bob, carol = (Peer(sandbox_factory(), n) for n in ("Alice", "Bob", "Carol"))
    origin = make_origin(alice, {"f.txt": b"base\n"})
    before = head_of(alice, origin)
    denied = carol.cof("clone", alice.url("proj"), "copy", check=False)
    assert denied.returncode == 16 and "no read access" in denied.stderr
    missing = carol.cof("clone", alice.url("nope"), "copy2", check=False)
    assert missing.returncode == 16  # same answer as for an unshared name

    alice.cof("peer", "grant", bob.key, "proj", "--read")
    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    commit_file(bob, copy, "f.txt", b"bob\n", "bob")
    refused = bob.cof("push", cwd=copy, check=False)
    assert refused.returncode == 16 and "no write access" in refused.stderr
    assert head_of(alice, origin) == before

    alice.cof("peer", "revoke", bob.key, "proj")
    assert bob.cof("fetch", cwd=copy, check=False).returncode == 16


# -- hostile peers ----------------------------------------------------------------------


class FakeServer:
    """A peer speaking the protocol over a real socket, serving crafted blocks."""

    def __init__(
        self,
        refs: dict[str, bytes],
        blocks: dict[bytes, bytes],
        lie: bool,
        pages: list[m.Lacking] | None = None,
    ) -> None:
        self.identity = Identity.generate()
        self.listener = Listener(self.identity)
        self.refs, self.blocks, self.lie = refs, blocks, lie
        self.pages = pages  # answers to the Wants, in order (default: one complete page)
        self.requested: Counter[bytes] = Counter()  # block ids asked for, how often
        self.wants: list[m.Want] = []
        # Set to hold block requests unanswered until it is set (a transfer in progress)
        self.release: threading.Event | None = None
        self.serve_first = 0  # with release: blocks served before holding the rest
        self.held: list[tuple[Any, tuple[tuple[int, m.BlockId], ...]]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"cof://{self.identity.public.hex()}@127.0.0.1:{self.port}/{name}"

    def _run(self) -> None:
        while not self.stop.is_set():
            now = time.monotonic()
            timer = self.listener.get_timer()
            wait = 0.05 if timer is None else max(0.0, min(0.05, timer - now))
            if select.select([self.sock], [], [], wait)[0]:
                data, addr = self.sock.recvfrom(2048)
                self.listener.receive_datagram(data, addr, time.monotonic())
            timer = self.listener.get_timer()
            if timer is not None and time.monotonic() >= timer:
                self.listener.handle_timer(time.monotonic())
            while (item := self.listener.next_event()) is not None:
                self._on_event(*item)
            if self.held and self.release is not None and self.release.is_set():
                for conn, blocks in self.held:
                    self._serve(conn, blocks)
                self.held.clear()
            for data, addr in self.listener.datagrams_to_send(time.monotonic()):
                self.sock.sendto(data, addr)

    def _serve(self, conn: Any, blocks: tuple[tuple[int, m.BlockId], ...]) -> None:
        for slot, block_id in blocks:
            self.requested[block_id] += 1
            data = self.blocks[block_id]
            conn.send_block(slot, data + b"!" if self.lie else data)

    def _on_event(self, conn: Any, event: ev.Event) -> None:
        if isinstance(event, ev.RequestReceived):
            if isinstance(event.message, m.ListRefs):
                refs = tuple(self.refs.items())
                conn.send_response(event.request_id, m.Refs(refs, "refs/heads/main"))
            elif isinstance(event.message, m.Want):
                self.wants.append(event.message)
                conn.send_response(event.request_id, self._page(event.message.offset))
        elif isinstance(event, ev.BlocksRequested):
            blocks = event.blocks
            if self.release is not None and not self.release.is_set():
                served = sum(self.requested.values())
                now = blocks[: max(0, self.serve_first - served)]
                self._serve(conn, now)
                if blocks[len(now) :]:
                    self.held.append((conn, blocks[len(now) :]))
            else:
                self._serve(conn, blocks)

    def _page(self, offset: int) -> m.Message:
        """The answer to the n-th Want is ``pages[n]``, whatever offset it asks for."""
        if self.pages is None:
            return m.Lacking(tuple(BlockId(i) for i in self.blocks), 0, True)
        if len(self.wants) > len(self.pages):
            return m.ErrorReply("integrity", f"listing failed at offset {offset}")
        return self.pages[len(self.wants) - 1]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def wait_until_held(fake: FakeServer, proc: subprocess.Popen[str]) -> None:
    """Until ``proc`` (a cof command) asked ``fake`` for blocks it holds back."""
    deadline = time.monotonic() + 30
    while not fake.held and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    assert fake.held, "the command never asked for the held blocks"
    # ... and the blocks served before holding the rest arrived: sent and acknowledged
    # (the receiver acknowledges what it has read; Ctrl-C must not race them).
    conn = fake.held[0][0]
    while conn.datagrams_pending() or conn.bytes_in_flight:
        assert time.monotonic() < deadline, "the served blocks were never acknowledged"
        time.sleep(0.02)


def _crafted_repo(name: str) -> tuple[dict[str, bytes], dict[bytes, bytes]]:
    blob = b"payload\n"
    tree = Tree((TreeEntry(name, Kind.FILE, MODE_FILE, hash_block(blob), len(blob)),))
    tree_bytes = tree.encode()
    who = Signature("Mallory", "m@example.com", 1_700_000_000, 0)
    commit = Commit((), TreeId(hash_block(tree_bytes)), who, who, "evil", 1).encode()
    blocks = {hash_block(b): b for b in (commit, tree_bytes, blob)}
    return {"refs/heads/main": hash_block(commit)}, blocks


@pytest.mark.parametrize("case", ["wrong-blocks", "..", ".cof", "a/b"])
def test_hostile_server_writes_nothing(
    sandbox_factory: Callable[[], CofSandbox], case: str
) -> None:
    bob = Peer(sandbox_factory(), "Bob", FAST_NETWORK)
    refs, blocks = _crafted_repo("fine.txt" if case == "wrong-blocks" else case)
    mine = bob.box.work / "mine"
    bob.cof("init", mine)
    commit_file(bob, mine, "own.txt", b"mine\n", "own")
    before = json.loads(bob.cof("dedup-stats", "--json", cwd=mine).stdout)
    fake = FakeServer(refs, blocks, lie=case == "wrong-blocks")
    try:
        failed = bob.cof("clone", fake.url("evil"), "copy", check=False)
        bob.cof("remote", "add", "evil", fake.url("evil"), cwd=mine)
        fetched = bob.cof("fetch", "evil", cwd=mine, check=False)
    finally:
        fake.close()
    copy = bob.box.work / "copy"
    for result in (failed, fetched):
        if case == "wrong-blocks":
            assert result.returncode == 15 and "corrupt data" in result.stderr, result.stderr
        else:
            assert result.returncode == 10 and "invalid entry name" in result.stderr, result.stderr
    # The transaction was rolled back, so the clone had nothing to keep and removed
    # its directory (a clone keeps its directory only when blocks were stored).
    assert not copy.exists()
    # A fetch into an existing repository: no block stored, no ref written.
    assert json.loads(bob.cof("dedup-stats", "--json", cwd=mine).stdout) == before
    assert not list((mine / ".cof" / "refs" / "remotes").rglob("*"))


def _paged_repo() -> tuple[dict[str, bytes], dict[bytes, bytes], list[bytes]]:
    """A commit with three one-block files: (refs, blocks, [commit, tree, a, b, c])."""
    blobs = [f"file {name}\n".encode() for name in "abc"]
    tree = Tree(
        tuple(
            TreeEntry(f"{name}.txt", Kind.FILE, MODE_FILE, hash_block(blob), len(blob))
            for name, blob in zip("abc", blobs, strict=True)
        )
    )
    tree_bytes = tree.encode()
    who = Signature("Pat", "p@example.com", 1_700_000_000, 0)
    commit = Commit((), TreeId(hash_block(tree_bytes)), who, who, "paged", 1).encode()
    order = [commit, tree_bytes, *blobs]
    return {"refs/heads/main": hash_block(commit)}, {hash_block(b): b for b in order}, order


def _wide_repo(files: int) -> tuple[dict[str, bytes], dict[bytes, bytes]]:
    """A commit of ``files`` one-block files: (refs, blocks)."""
    blobs = [f"file {n}\n".encode() for n in range(files)]
    tree = Tree(
        tuple(
            TreeEntry(f"f{n:03d}.txt", Kind.FILE, MODE_FILE, hash_block(blob), len(blob))
            for n, blob in enumerate(blobs)
        )
    )
    tree_bytes = tree.encode()
    who = Signature("Pat", "p@example.com", 1_700_000_000, 0)
    commit = Commit((), TreeId(hash_block(tree_bytes)), who, who, "wide", 1).encode()
    order = [commit, tree_bytes, *blobs]
    return {"refs/heads/main": hash_block(commit)}, {hash_block(b): b for b in order}


def _pages(*groups: list[bytes], last_complete: bool = True) -> list[m.Lacking]:
    pages, offset = [], 0
    for number, group in enumerate(groups):
        ids = tuple(BlockId(hash_block(b)) for b in group)
        complete = last_complete and number == len(groups) - 1
        pages.append(m.Lacking(ids, offset, complete))
        offset += len(ids)
    return pages


def test_clone_over_several_pages_fetches_each_block_once(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """Lacking pages are asked in order and streamed into the fetch; an id listed
    again on a later page (a server whose walk forgot it) is not fetched twice."""
    bob = Peer(sandbox_factory(), "Bob", FAST_NETWORK)
    refs, blocks, (commit, tree, a, b, c) = _paged_repo()
    pages = _pages([commit, a], [tree, a, b], [c, commit, b])
    fake = FakeServer(refs, blocks, lie=False, pages=pages)
    try:
        out = bob.cof("clone", fake.url("paged"), "copy", "--json")
    finally:
        fake.close()
    copy = bob.box.work / "copy"
    assert sorted(p.name for p in copy.iterdir()) == [".cof", "a.txt", "b.txt", "c.txt"]
    assert (copy / "b.txt").read_bytes() == b"file b\n"
    assert [w.offset for w in fake.wants] == [0, 2, 5]
    assert fake.requested == Counter(set(blocks)), fake.requested  # each block once
    stats = json.loads(out.stdout)["fetch"]["stats"]
    assert (stats["pages"], stats["listed"], stats["blocks"]) == (3, 8, 5), stats


@pytest.mark.parametrize("case", ["offset", "empty", "error-midway", "incomplete"])
def test_bad_lacking_pages_fail_cleanly(
    sandbox_factory: Callable[[], CofSandbox], case: str
) -> None:
    """A page at the wrong offset, an empty page that claims more follow, a server
    failing in mid-listing, a listing that leaves a reachable block out: one line,
    non-zero exit, nothing checked out, no ref written."""
    bob = Peer(sandbox_factory(), "Bob", FAST_NETWORK)
    refs, blocks, (commit, tree, a, b, c) = _paged_repo()
    expected = {
        "offset": (14, "inconsistent Lacking page"),
        "empty": (14, "inconsistent Lacking page"),
        "error-midway": (10, "listing failed at offset 2"),
        "incomplete": (10, "transfer incomplete"),
    }[case]
    if case == "offset":
        pages = _pages([commit, tree], [a, b, c])
        pages[1] = m.Lacking(pages[1].ids, 1, True)  # overlaps the first page
    elif case == "empty":
        pages = _pages([commit, tree], [], [a, b, c])
    elif case == "error-midway":
        pages = _pages([commit, tree], [a], last_complete=False)[:1]
    else:
        pages = _pages([commit, tree], [a, c])  # b.txt's block is never listed
    fake = FakeServer(refs, blocks, lie=False, pages=pages)
    try:
        failed = bob.cof("clone", fake.url("paged"), "copy", check=False)
    finally:
        fake.close()
    copy = bob.box.work / "copy"
    assert (failed.returncode, expected[1] in failed.stderr) == (expected[0], True), failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert not copy.exists()  # nothing was kept (rolled back), so nothing is left


def test_daemon_survives_garbage_and_keeps_serving(pair: tuple[Peer, Peer]) -> None:
    alice, bob = pair
    make_origin(alice, {"f.txt": b"content\n"})
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    init, data = bytes([wire.type_byte(wire.INIT)]), bytes([wire.type_byte(wire.DATA)])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        target = ("127.0.0.1", alice.port)
        for datagram in (
            b"",
            init + os.urandom(100),  # an INIT-typed datagram with garbage keys
            data + os.urandom(60),  # DATA for no connection
            bytes(1400),
            os.urandom(3000),  # oversized
            init * 101,  # a truncated-looking INIT of the right size
        ):
            for _ in range(20):
                sock.sendto(datagram, target)
    bob.cof("clone", alice.url("proj"), "copy")
    assert (bob.box.work / "copy" / "f.txt").read_bytes() == b"content\n"
    assert alice.box.daemon_pid() is not None


@pytest.mark.parametrize("how", ["kill -9 the daemon", "ctrl-c the client"])
def test_interrupted_push_resumes_with_only_missing_blocks(
    sandbox_factory: Callable[[], CofSandbox], how: str
) -> None:
    """The pusher dies (kill -9 of its daemon) or its user presses Ctrl-C while the
    remote pulls from it: the remote keeps the verified blocks that arrived and moves
    no ref; the push, re-run, sends the rest."""
    alice = Peer(sandbox_factory(), "Alice", FAST_NETWORK)
    bob = Peer(sandbox_factory(), "Bob")
    origin = make_origin(alice, {"f.txt": b"base\n"})
    before = head_of(alice, origin)
    alice.cof("peer", "grant", bob.key, "proj", "--write")
    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    size = 48 * 1024 * 1024
    data = os.urandom(size)
    pushed_id = commit_file(bob, copy, "big.bin", data, "big")

    proc = _start_until_stored(bob, ("push", "--json"), copy, origin, 8 * 1024 * 1024)
    pid = bob.box.daemon_pid()
    assert pid is not None
    if how == "ctrl-c the client":
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        assert proc.returncode == 130
    else:
        os.kill(pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert proc.returncode != 0
    # Alice gives up on the silent pusher (FAST_NETWORK: 0.8 s), keeps what arrived.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and alice.cof("status", cwd=origin, check=False).returncode:
        time.sleep(0.1)
    assert head_of(alice, origin) == before

    again = json.loads(bob.cof("push", "--json", cwd=copy).stdout)  # restarts Bob's daemon
    assert head_of(alice, origin) == pushed_id
    assert (origin / "big.bin").read_bytes() == data
    sent = again["wire"]["sent"]
    assert sent < size - 4 * 1024 * 1024, sent  # >= 8 MiB were kept, not sent again


def test_two_clients_clone_at_once(sandbox_factory: Callable[[], CofSandbox]) -> None:
    alice, bob, carol = (Peer(sandbox_factory(), n) for n in ("Alice", "Bob", "Carol"))
    files = {"a.bin": os.urandom(6 * 1024 * 1024), "b.bin": os.urandom(3 * 1024 * 1024)}
    make_origin(alice, files)
    for peer in (bob, carol):
        alice.cof("peer", "grant", peer.key, "proj", "--read")
    procs = [p.popen("clone", alice.url("proj"), "copy", cwd=p.box.work) for p in (bob, carol)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for peer in (bob, carol):
        for rel, data in files.items():
            assert (peer.box.work / "copy" / rel).read_bytes() == data


def test_readers_run_while_a_fetch_is_in_progress(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A fetch (or push) holds no exclusive lock on the repository: status, diff, log
    and the listing forms of branch, tag and remote answer while its blocks are still
    on the way, and the fetch then completes. (Before, they waited for the transfer.)"""
    bob = Peer(sandbox_factory(), "Bob")
    repo = bob.box.work / "mine"
    bob.cof("init", repo)
    commit_file(bob, repo, "own.txt", b"mine\n", "own")
    refs, blocks, _ = _paged_repo()
    fake = FakeServer(refs, blocks, lie=False)
    fake.release = threading.Event()
    try:
        bob.cof("remote", "add", "fake", fake.url("paged"), cwd=repo)
        proc = bob.popen("fetch", "fake", "--json", cwd=repo)
        wait_until_held(fake, proc)
        (repo / "own.txt").write_bytes(b"changed\n")
        readers = (
            ("status", "--porcelain"),
            ("diff", "--name-only"),
            ("log", "-n", "1"),
            ("branch",),
            ("tag",),
            ("remote", "list"),
        )
        for args in readers:
            done = bob.cof(*args, cwd=repo, timeout=10)
            assert done.returncode == 0, done.stderr
        assert " M own.txt" in bob.cof("status", "--porcelain", cwd=repo).stdout
        assert proc.poll() is None  # still waiting for its blocks
        fake.release.set()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        fake.close()
    assert json.loads(out)["updated"][0]["ref"] == "refs/remotes/fake/main"
    assert bob.cof("log", "-n", "1", "fake/main", cwd=repo).returncode == 0


def test_two_fetches_into_one_repository_take_turns(pair: tuple[Peer, Peer]) -> None:
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.bin": os.urandom(2 * 1024 * 1024)})
    newest = commit_file(alice, origin, "g.bin", os.urandom(4 * 1024 * 1024), "more")
    procs = [bob.popen("fetch", "--json", cwd=copy) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["stats"]["blocks"] > 0 for r in results) == [False, True], results
    assert head_of(bob, copy) != newest
    assert bob.cof("merge", "origin/main", cwd=copy).returncode == 0
    assert head_of(bob, copy) == newest


class FakePusher:
    """A client speaking the protocol over a real socket: offers a push of crafted
    commits and serves their blocks only once ``release`` is set."""

    def __init__(self, server: Peer, offer: m.PushOffer, blocks: dict[bytes, bytes]) -> None:
        self.identity = Identity.generate()
        self.blocks = blocks
        self.release = threading.Event()
        self.asked = threading.Event()  # the server asked for blocks
        self.result: m.Message | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", server.port))
        self.conn = Connection.client(
            self.identity, bytes.fromhex(server.key), ("127.0.0.1", server.port)
        )
        self.offer = offer
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        conn, held, rid = self.conn, [], None
        while not self.stop.is_set() and self.result is None:
            timer = conn.get_timer()
            wait = 0.05 if timer is None else max(0.0, min(0.05, timer - time.monotonic()))
            if select.select([self.sock], [], [], wait)[0]:
                conn.receive_datagram(self.sock.recv(2048), None, time.monotonic())
            timer = conn.get_timer()
            if timer is not None and time.monotonic() >= timer:
                conn.handle_timer(time.monotonic())
            while (event := conn.next_event()) is not None:
                if isinstance(event, ev.HandshakeCompleted):
                    rid = conn.send_request(self.offer)
                elif isinstance(event, ev.RequestReceived) and isinstance(event.message, m.Want):
                    ids = tuple(BlockId(i) for i in self.blocks)
                    conn.send_response(event.request_id, m.Lacking(ids, 0, True))
                elif isinstance(event, ev.BlocksRequested):
                    held.extend(event.blocks)
                    self.asked.set()
                elif isinstance(event, ev.ResponseReceived) and event.request_id == rid:
                    self.result = event.message
            if held and self.release.is_set():
                for slot, block_id in held:
                    conn.send_block(slot, self.blocks[block_id])
                held.clear()
            for data in conn.datagrams_to_send(time.monotonic()):
                self.sock.send(data)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_the_receiving_repository_answers_readers_while_a_push_arrives(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A push being received holds the repository exclusively only to move its refs:
    while its blocks are on the way, status and log answer in that repository."""
    alice = Peer(sandbox_factory(), "Alice")
    origin = make_origin(alice, {"f.txt": b"base\n"})
    refs, blocks, _ = _paged_repo()
    update = m.RefUpdate("refs/heads/incoming", None, refs["refs/heads/main"])
    pusher = FakePusher(alice, m.PushOffer("proj", (update,), False), blocks)
    alice.cof("peer", "grant", pusher.identity.public.hex(), "proj", "--write")
    pusher.start()
    try:
        assert pusher.asked.wait(30), "the receiving daemon never asked for blocks"
        for args in (("status", "--porcelain"), ("log", "-n", "1"), ("diff", "--name-only")):
            done = alice.cof(*args, cwd=origin, timeout=10)
            assert done.returncode == 0, done.stderr
        assert pusher.result is None  # the push is still waiting for its blocks
        pusher.release.set()
        deadline = time.monotonic() + 30
        while pusher.result is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        pusher.close()
    assert pusher.result == m.PushResult((("refs/heads/incoming", True, "updated"),))
    assert "incoming" in alice.cof("branch", cwd=origin).stdout


def test_pull_fetches_then_merges_and_needs_a_branch(pair: tuple[Peer, Peer]) -> None:
    """`cof pull` = fetch (beside readers) + merge of <remote>/<branch>: a three-way
    merge of diverged histories, its JSON both halves; detached HEAD needs a name."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"a.txt": b"a\n", "b.txt": b"b\n"})
    commit_file(alice, origin, "a.txt", b"alice\n", "alice")
    commit_file(bob, copy, "b.txt", b"bob\n", "bob")
    pulled = json.loads(bob.cof("pull", "--json", cwd=copy).stdout)
    assert pulled["fetch"]["stats"]["blocks"] > 0 and pulled["merge"]["merged"], pulled
    assert (copy / "a.txt").read_bytes() == b"alice\n"
    assert (copy / "b.txt").read_bytes() == b"bob\n"
    assert bob.cof("status", "--porcelain", cwd=copy).stdout == ""

    bob.cof("checkout", "--detach", "HEAD", cwd=copy)
    detached = bob.cof("pull", cwd=copy, check=False)
    assert detached.returncode == 2 and "HEAD is detached" in detached.stderr
    again = bob.cof("pull", "origin", "main", cwd=copy)
    assert "Already up to date" in again.stdout


def _drive(conn: Connection, sock: socket.socket, events: list[ev.Event], until: Any) -> None:
    """Run a client connection over ``sock`` until ``until()`` or 20 s; events collected."""
    deadline = time.monotonic() + 20
    while not until() and time.monotonic() < deadline:
        for data in conn.datagrams_to_send(time.monotonic()):
            sock.send(data)
        timer = conn.get_timer()
        wait = 0.05 if timer is None else max(0.0, min(0.05, timer - time.monotonic()))
        if select.select([sock], [], [], wait)[0]:
            conn.receive_datagram(sock.recv(2048), None, time.monotonic())
        if (timer := conn.get_timer()) is not None and time.monotonic() >= timer:
            conn.handle_timer(time.monotonic())
        while (event := conn.next_event()) is not None:
            events.append(event)


@contextlib.contextmanager
def raw_session(
    server: Peer, identity: Identity
) -> Iterator[tuple[Connection, socket.socket, list[ev.Event]]]:
    """An established protocol session with ``server``'s daemon, driven by the test
    (``_drive``); closed politely at the end."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", server.port))
    conn = Connection.client(identity, bytes.fromhex(server.key), ("127.0.0.1", server.port))
    events: list[ev.Event] = []
    try:
        _drive(conn, sock, events, lambda: conn.state.value == "established")
        yield conn, sock, events
    finally:
        conn.close()
        for data in conn.datagrams_to_send(time.monotonic()):
            sock.send(data)
        sock.close()


def test_only_blocks_listed_on_the_connection_are_served(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A read grant is not an oracle for the whole store: blocks are served only once
    a Want page on the same connection listed them, so a block no ref reaches any more
    (deleted, not yet collected) cannot be probed for by its id."""
    alice = Peer(sandbox_factory(), "Alice")
    secret = b"the secret that was committed by mistake\n" * 50
    origin = make_origin(alice, {"public.txt": b"public\n"})
    main = head_of(alice, origin)
    alice.cof("checkout", "-b", "oops", cwd=origin)
    commit_file(alice, origin, "secret.txt", secret, "oops")
    alice.cof("checkout", "main", cwd=origin)
    alice.cof("branch", "-D", "oops", cwd=origin)  # unreachable now, still stored
    identity = Identity.generate()
    alice.cof("peer", "grant", identity.public.hex(), "proj", "--read")

    with raw_session(alice, identity) as (conn, sock, events):
        public = BlockId(hash_block(b"public\n"))
        rid = conn.send_request(m.ListRefs("proj"))  # a granted, authenticated session
        _drive(conn, sock, events, lambda: any(isinstance(e, ev.ResponseReceived) for e in events))
        # Not listed yet: refused, although it is reachable and the peer may read it.
        conn.fetch_blocks([public, BlockId(hash_block(secret[:4096]))])
        _drive(
            conn,
            sock,
            events,
            lambda: len([e for e in events if isinstance(e, ev.BlockFailed)]) == 2,
        )
        failed = [e for e in events if isinstance(e, ev.BlockFailed)]
        assert len(failed) == 2 and all("does not have" in str(e.error) for e in failed)
        # Listed by a Want page: served.
        rid = conn.send_request(m.Want("proj", (m.BlockId(bytes.fromhex(main)),), (), 0))
        _drive(
            conn, sock, events, lambda: any(getattr(e, "request_id", None) == rid for e in events)
        )
        [page] = [e.message for e in events if getattr(e, "request_id", None) == rid]
        assert isinstance(page, m.Lacking) and public in page.ids
        conn.fetch_blocks([public])
        _drive(conn, sock, events, lambda: any(isinstance(e, ev.BlocksReceived) for e in events))
        [got] = [e for e in events if isinstance(e, ev.BlocksReceived)]
        assert got.blocks == [(public, b"public\n")]


def test_clone_over_more_than_two_lacking_pages(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """Real daemons, a listing of three Lacking pages (the serving daemon's
    ``[peer] listing_page_blocks`` at its minimum, 1024: 4 MiB of 4 KiB blocks; 12 MiB
    in 8 files): the server walks page by page while blocks flow, the receiver asks for
    the next page as the last one drains, and every block arrives once. (How long the
    serving side remembers what it listed is tested over many pages in
    tests/unit/test_sync_streaming.py: catching a too-short memory end to end takes a
    1 GiB clone at the default page size, as the push benchmark's did.)"""
    page = 1024
    alice = Peer(sandbox_factory(), "Alice", f"listing_page_blocks = {page}\n")
    bob = Peer(sandbox_factory(), "Bob")
    origin = alice.box.work / "origin"
    alice.cof("init", origin)
    size = (2 * page * 4096 + 4 * 1024 * 1024) // 8
    hashes = {f"part{i}.bin": write_random(origin / f"part{i}.bin", size) for i in range(8)}
    alice.cof("add", "-A", cwd=origin)
    alice.cof("commit", "-q", "-m", "big", cwd=origin)
    alice.cof("share", "proj", cwd=origin)
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    cloned = json.loads(bob.cof("clone", alice.url("proj"), "copy", "--json", timeout=300).stdout)
    stats = cloned["fetch"]["stats"]
    assert stats["pages"] >= 3 and stats["blocks"] == stats["listed"], stats
    for name, digest in hashes.items():
        assert sha256_file(bob.box.work / "copy" / name) == digest, name


# -- interrupted on the receiving side -----------------------------------------------


def _start_held_fetch(bob: Peer, served: int) -> tuple[FakeServer, Path, subprocess.Popen[str]]:
    """A fetch from a server that sends ``served`` blocks and holds the rest."""
    repo = bob.box.work / "mine"
    bob.cof("init", repo)
    refs, blocks = _wide_repo(80)
    fake = FakeServer(refs, blocks, lie=False)
    fake.release, fake.serve_first = threading.Event(), served
    bob.cof("remote", "add", "fake", fake.url("wide"), cwd=repo)
    proc = bob.popen("fetch", "fake", "--json", cwd=repo)
    wait_until_held(fake, proc)
    return fake, repo, proc


def _refetch_moves_only_the_rest(bob: Peer, fake: FakeServer, repo: Path, kept: int) -> None:
    fake.held.clear()  # requests of the interrupted session
    fake.release = None
    done = json.loads(bob.cof("fetch", "fake", "--json", cwd=repo).stdout)
    stats = done["stats"]
    assert stats["skipped"] >= kept, stats
    assert stats["blocks"] == stats["listed"] - stats["skipped"]
    twice = [bid.hex() for bid, n in fake.requested.items() if n > 1]
    assert not twice, f"fetched again: {twice}"
    assert len(fake.requested) == len(fake.blocks)
    assert bob.cof("log", "-n", "1", "fake/main", cwd=repo).returncode == 0


def test_ctrl_c_stops_a_fetch_and_a_rerun_moves_only_the_rest(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """Ctrl-C on `cof fetch`: the daemon stops the transfer (before, it went on in the
    background, and here it would wait for the held blocks forever), keeps the blocks
    that arrived, and the same command again fetches only the others."""
    bob = Peer(sandbox_factory(), "Bob")
    fake, repo, proc = _start_held_fetch(bob, served=30)
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "run the same command again" in err
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = json.loads(bob.cof("daemon", "status", "--json").stdout)
            if not status["in_flight"]:
                break
            time.sleep(0.1)
        assert not status["in_flight"], status["in_flight"]
        _refetch_moves_only_the_rest(bob, fake, repo, kept=30)
    finally:
        fake.close()


def test_receiving_daemon_killed_mid_fetch_keeps_its_checkpoint(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """kill -9 of the receiving daemon: the blocks stored before its last checkpoint
    (taken every few seconds, also while a peer stalls) survive, and a re-run fetches
    only the rest. (Before, one store transaction per fetch lost them all.)"""
    bob = Peer(sandbox_factory(), "Bob")
    fake, repo, proc = _start_held_fetch(bob, served=30)
    try:
        served = [bid for bid in fake.requested]
        index = repo / ".cof" / "index" / "blocks.sqlite"
        deadline = time.monotonic() + CHECKPOINT_SECONDS + 10
        while time.monotonic() < deadline and _indexed(index, served) < len(served):
            time.sleep(0.2)
        assert _indexed(index, served) == len(served), "no checkpoint while the peer stalled"
        pid = bob.box.daemon_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 13, err  # the daemon went away
        _refetch_moves_only_the_rest(bob, fake, repo, kept=30)
        assert bob.cof("fsck", cwd=repo).returncode == 0
    finally:
        fake.close()


def _indexed(index: Path, ids: list[bytes]) -> int:
    """How many of ``ids`` the store's index has committed (read-only, as a bystander)."""
    with contextlib.closing(sqlite3.connect(f"file:{index}?mode=ro", uri=True)) as db:
        marks = ",".join("?" * len(ids))
        row = db.execute(f"SELECT count(*) FROM block_map WHERE id IN ({marks})", ids).fetchone()
    return int(row[0])


def test_ctrl_c_during_clone_then_the_same_clone_resumes(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    bob = Peer(sandbox_factory(), "Bob")
    refs, blocks = _wide_repo(80)
    fake = FakeServer(refs, blocks, lie=False)
    fake.release, fake.serve_first = threading.Event(), 30
    try:
        proc = bob.popen("clone", fake.url("wide"), "copy", cwd=bob.box.work)
        wait_until_held(fake, proc)
        busy = bob.cof("status", cwd=bob.box.work / "copy", check=False)
        assert busy.returncode == 12 and "a clone into it is still running" in busy.stderr
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        fake.held.clear()
        fake.release = None
        # A command in the partial clone makes the daemon open (and cache) it, holding
        # its lock: the re-run used to be refused ("a clone into it is still running")
        # until the daemon stopped.
        deadline = time.monotonic() + 20
        while (look := bob.cof("status", cwd=bob.box.work / "copy", check=False)).returncode:
            assert look.returncode == 12 and time.monotonic() < deadline, look.stderr
            time.sleep(0.05)  # the cancelled clone is still letting go of the directory
        done = bob.cof("clone", fake.url("wide"), "copy", "--json", cwd=bob.box.work)
    finally:
        fake.close()
    result = json.loads(done.stdout)
    assert result["resumed"] is True
    assert result["fetch"]["stats"]["skipped"] >= 30, result["fetch"]["stats"]
    assert all(n == 1 for n in fake.requested.values())
    assert (bob.box.work / "copy" / "f079.txt").read_bytes() == b"file 79\n"


def test_clone_from_a_closed_port_fails_at_once_and_leaves_nothing(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """Nothing listens: the kernel says so (ICMP port unreachable), and so does cof, at
    once rather than after the 20 s handshake budget. As git does, a clone that got
    nothing removes the directory it made (or empties the one it was given)."""
    bob = Peer(sandbox_factory(), "Bob")
    url = f"cof://{bob.key}@127.0.0.1:{free_udp_port()}/proj"  # bound, then closed
    started = time.monotonic()
    failed = bob.cof("clone", url, "copy", check=False)
    assert failed.returncode == 15 and "refused the connection" in failed.stderr
    assert time.monotonic() - started < 5
    assert len(failed.stderr.strip().splitlines()) == 1
    assert not (bob.box.work / "copy").exists()
    (bob.box.work / "empty").mkdir()
    assert bob.cof("clone", url, "empty", check=False).returncode == 15
    assert list((bob.box.work / "empty").iterdir()) == []


def _git(*args: str | Path, cwd: Path) -> str:
    return _git_run(*args, cwd=cwd).stdout


def _git_run(*args: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_AUTHOR_NAME="A", GIT_AUTHOR_EMAIL="a@x", GIT_COMMITTER_NAME="A")
    env.update(GIT_COMMITTER_EMAIL="a@x", GIT_CONFIG_GLOBAL="/dev/null")
    return subprocess.run(
        ["git", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, check=check
    )


def test_branch_lists_remote_tracking_branches_as_git_does(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    """`branch`, `branch -r`, `branch -a` after cloning a repository with two branches
    and switching to a new local one: the same lines as git's (git adds a symbolic
    remotes/origin/HEAD line, which cof does not keep)."""
    alice, bob = pair
    _, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--read", "feature")
    bob.cof("checkout", "-b", "topic", cwd=copy)

    _git("init", "-q", "-b", "main", tmp_path / "origin", cwd=tmp_path)
    (tmp_path / "origin" / "f.txt").write_text("base\n")
    _git("add", "f.txt", cwd=tmp_path / "origin")
    _git("commit", "-q", "-m", "initial", cwd=tmp_path / "origin")
    _git("branch", "feature", cwd=tmp_path / "origin")
    _git("clone", "-q", tmp_path / "origin", tmp_path / "copy", cwd=tmp_path)
    _git("checkout", "-q", "-b", "topic", cwd=tmp_path / "copy")

    # `cof remote -v`, as git users type it: name, URL and the remote daemon's key.
    url = f"cof://127.0.0.1:{alice.port}/proj"
    assert bob.cof("remote", "-v", cwd=copy).stdout == f"origin\t{url}\t{alice.key}\n"
    assert bob.cof("remote", cwd=copy).stdout == "origin\n"

    for flags in ((), ("-r",), ("-a",)):
        theirs = [
            line
            for line in _git("branch", *flags, cwd=tmp_path / "copy").splitlines()
            if "/HEAD -> " not in line
        ]
        ours = bob.cof("branch", *flags, cwd=copy).stdout.splitlines()
        assert ours == theirs, flags


def _remote_branches_like_git(bob: Peer, copy: Path, git_copy: Path) -> list[str]:
    """`cof branch -r` in ``copy``, checked against `git branch -r` in ``git_copy``."""
    ours = bob.cof("branch", "-r", cwd=copy).stdout.splitlines()
    theirs = _git("branch", "-r", cwd=git_copy).splitlines()
    assert ours == [line for line in theirs if "/HEAD -> " not in line]
    return ours


def test_fetch_prune_deletes_what_the_remote_no_longer_has_as_git_does(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    """Branches deleted on the remote: a plain fetch keeps their remote-tracking
    branches, `fetch --prune` (`-p`) deletes them, with git's lines for each, and
    lists them under `pruned` in its JSON. The same steps run on git repositories."""
    alice, bob = pair
    origin = make_origin(alice, {"f.txt": b"base\n"})
    git_origin, git_copy = tmp_path / "origin", tmp_path / "copy"
    _git("init", "-q", "-b", "main", git_origin, cwd=tmp_path)
    (git_origin / "f.txt").write_text("base\n")
    _git("add", "f.txt", cwd=git_origin)
    _git("commit", "-q", "-m", "initial", cwd=git_origin)
    for name in ("gone", "feature/x", "kept", "later"):
        alice.cof("branch", name, cwd=origin)
        _git("branch", name, cwd=git_origin)
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    _git("clone", "-q", git_origin, git_copy, cwd=tmp_path)
    before = _remote_branches_like_git(bob, copy, git_copy)

    for name in ("gone", "feature/x"):
        alice.cof("branch", "-D", name, cwd=origin)
        _git("branch", "-q", "-D", name, cwd=git_origin)
    commit_file(alice, origin, "f.txt", b"more\n", "more")
    (git_origin / "f.txt").write_text("more\n")
    _git("commit", "-q", "-am", "more", cwd=git_origin)

    bob.cof("fetch", cwd=copy)
    _git("fetch", "-q", cwd=git_copy)
    assert _remote_branches_like_git(bob, copy, git_copy) == before  # nothing deleted

    pruned = bob.cof("fetch", "--prune", cwd=copy).stdout.splitlines()
    # git with cof's 12-digit ids: its summary column is as wide as they make it.
    git_pruned = _git_run("-c", "core.abbrev=12", "fetch", "--prune", cwd=git_copy)
    assert pruned[0] == f"From cof://127.0.0.1:{alice.port}/proj"
    assert [line for line in pruned if line.startswith(" - ")] == [
        line for line in git_pruned.stderr.splitlines() if line.startswith(" - ")
    ]
    assert pruned[1] == " - [deleted]" + " " * 19 + "(none)     -> origin/feature/x", pruned
    assert _remote_branches_like_git(bob, copy, git_copy) == [
        "  origin/kept",
        "  origin/later",
        "  origin/main",
    ]

    # Nothing to fetch, one branch to delete: the JSON names it and its last value.
    log = bob.cof("log", "-n", "1", "--json", "origin/later", cwd=copy).stdout
    later = json.loads(log)[0]["id"]
    alice.cof("branch", "-D", "later", cwd=origin)
    _git("branch", "-q", "-D", "later", cwd=git_origin)
    result = json.loads(bob.cof("fetch", "-p", "--json", cwd=copy).stdout)
    assert result["pruned"] == [{"ref": "refs/remotes/origin/later", "old": later}]
    assert result["updated"] == [] and result["stats"]["listed"] == 0
    _git("fetch", "-q", "-p", cwd=git_copy)
    assert _remote_branches_like_git(bob, copy, git_copy) == ["  origin/kept", "  origin/main"]
    quiet = bob.cof("fetch", "-p", cwd=copy)
    assert (quiet.stdout, quiet.stderr) == ("", "")  # as git: nothing to say


def _upstreams(branch_vv: str) -> list[tuple[str, str | None]]:
    """Each branch and what it tracks, from `branch -vv` (ids are longer in cof)."""
    found = [
        (line[2:].split()[0], re.search(r"\[([^\]:]+)", line)) for line in branch_vv.splitlines()
    ]
    return [(name, upstream[1] if upstream else None) for name, upstream in found]


def test_remote_rename_and_set_url_as_git_does(pair: tuple[Peer, Peer], tmp_path: Path) -> None:
    """`remote rename` moves the remote, its remote-tracking branches (logged with
    git's message) and the upstreams that named it, as git's does, and sync goes on
    under the new name; `remote set-url` points a remote elsewhere and keeps its key
    unless given one. Refusals are one line, exit 2, and change nothing."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--read", "feature")
    bob.cof("checkout", "feature", cwd=copy)  # tracks origin/feature, as git's guess
    bob.cof("checkout", "main", cwd=copy)
    bob.cof("remote", "add", "other", alice.url("proj"), cwd=copy)
    git_origin, git_copy = tmp_path / "origin", tmp_path / "copy"
    _git("init", "-q", "-b", "main", git_origin, cwd=tmp_path)
    (git_origin / "f.txt").write_text("base\n")
    _git("add", "f.txt", cwd=git_origin)
    _git("commit", "-q", "-m", "initial", cwd=git_origin)
    _git("branch", "feature", cwd=git_origin)
    _git("clone", "-q", git_origin, git_copy, cwd=tmp_path)
    _git("checkout", "-q", "feature", cwd=git_copy)
    _git("checkout", "-q", "main", cwd=git_copy)
    _git("remote", "add", "other", git_origin, cwd=git_copy)

    def state() -> tuple[str, ...]:
        return tuple(
            bob.cof(*args, cwd=copy).stdout
            for args in (("remote", "-v"), ("branch", "-a", "-vv"), ("reflog", "origin/main"))
        )

    before = state()
    url = f"cof://127.0.0.1:{alice.port}/proj"
    for args, message in (
        (("rename", "nope", "up"), "no remote named 'nope'"),
        (("rename", "origin", "other"), "remote 'other' already exists"),
        (("rename", "origin", "origin"), "remote 'origin' already exists"),
        (("rename", "origin", "a b"), "'a b' is not a valid remote name"),
        (("set-url", "nope", url), "no remote named 'nope'"),
        (("set-url", "origin", "https://host/proj"), "is not a cof URL"),
    ):
        failed = bob.cof("remote", *args, cwd=copy, check=False)
        assert failed.returncode == 2 and message in failed.stderr, (args, failed.stderr)
        assert len(failed.stderr.splitlines()) == 1, failed.stderr
        if "https" not in args[-1]:  # git's URLs are not cof's
            assert _git_run("remote", *args, cwd=git_copy, check=False).returncode != 0
    assert state() == before

    bob.cof("remote", "rename", "origin", "up", cwd=copy)
    _git("remote", "rename", "origin", "up", cwd=git_copy)
    for flags in (("-r",), ("-a",)):
        ours = bob.cof("branch", *flags, cwd=copy).stdout.splitlines()
        theirs = _git("branch", *flags, cwd=git_copy).splitlines()
        assert ours == [line for line in theirs if "/HEAD -> " not in line], flags
    assert (
        _upstreams(bob.cof("branch", "-vv", cwd=copy).stdout)
        == _upstreams(_git("branch", "-vv", cwd=git_copy))
        == [("feature", "up/feature"), ("main", "up/main")]
    )
    ours_log = bob.cof("reflog", "up/main", cwd=copy).stdout.splitlines()[0]
    theirs_log = _git("reflog", "show", "refs/remotes/up/main", cwd=git_copy).splitlines()[0]
    message = "remote: renamed refs/remotes/origin/main to refs/remotes/up/main"
    assert ours_log.endswith(message) and theirs_log.endswith(message), (ours_log, theirs_log)
    assert bob.cof("remote", cwd=copy).stdout == "other\nup\n"
    newest = commit_file(alice, origin, "f.txt", b"more\n", "more")
    assert json.loads(bob.cof("fetch", "up", "--json", cwd=copy).stdout)["updated"] == [
        {
            "ref": "refs/remotes/up/main",
            "old": head_of(bob, copy),
            "new": newest,
            "status": "fast-forward",
            "reason": "",
        }
    ]

    # The serving side renames its share: set-url follows it, keeping the key.
    alice.cof("share", "--remove", "proj", cwd=origin)
    alice.cof("share", "moved", cwd=origin)
    alice.cof("peer", "grant", bob.key, "moved", "--read")
    moved = f"cof://127.0.0.1:{alice.port}/moved"
    bob.cof("remote", "set-url", "up", moved, cwd=copy)
    assert f"up\t{moved}\t{alice.key}\n" in bob.cof("remote", "-v", cwd=copy).stdout
    commit_file(alice, origin, "f.txt", b"again\n", "again")
    assert bob.cof("fetch", "up", cwd=copy).stdout.startswith(f"From {moved}\n")
    bad = bob.cof(
        "remote", "set-url", "up", alice.url("moved"), "--key", bob.key, cwd=copy, check=False
    )
    assert bad.returncode == 2 and "the key in the URL" in bad.stderr and "differ" in bad.stderr
    bob.cof("remote", "set-url", "up", moved, "--key", bob.key, cwd=copy)
    assert f"up\t{moved}\t{bob.key}\n" in bob.cof("remote", "-v", cwd=copy).stdout
    bob.cof("remote", "set-url", "up", alice.url("moved"), cwd=copy)  # KEY@ in the URL
    assert f"up\t{moved}\t{alice.key}\n" in bob.cof("remote", "-v", cwd=copy).stdout


def test_clone_takes_the_origins_block_size_and_mismatches_are_refused(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """An 8 KiB-block origin clones into an 8 KiB-block copy (whatever the cloner's
    own default), which can push back. A 4 KiB-block repository can neither fetch from
    it nor push to it: one line, exit 6, nothing written."""
    alice = Peer(sandbox_factory(), "Alice", "[core]\nblock_size = 8192\n")
    bob = Peer(sandbox_factory(), "Bob")
    files = {"big.bin": os.urandom(100_000), "small.txt": b"small\n"}
    origin = make_origin(alice, files)
    alice.cof("peer", "grant", bob.key, "proj", "--write")

    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    for rel, data in files.items():
        assert (copy / rel).read_bytes() == data
    assert "block_size = 8192" in (copy / ".cof" / "config.toml").read_text()
    new_id = commit_file(bob, copy, "small.txt", b"changed\n", "bob")
    bob.cof("push", cwd=copy)
    assert head_of(alice, origin) == new_id
    assert (origin / "small.txt").read_bytes() == b"changed\n"

    mine = bob.box.work / "mine"
    bob.cof("init", mine)
    commit_file(bob, mine, "own.txt", b"mine\n", "own")
    bob.cof("remote", "add", "alice", alice.url("proj"), cwd=mine)
    fetched = bob.cof("fetch", "alice", cwd=mine, check=False)
    assert fetched.returncode == 6 and "(8192 bytes there, 4096 here)" in fetched.stderr
    assert not list((mine / ".cof" / "refs" / "remotes").rglob("*"))
    pushed = bob.cof("push", "alice", "main", cwd=mine, check=False)
    assert pushed.returncode == 6 and "(8192 bytes there, 4096 here)" in pushed.stderr
    assert head_of(alice, origin) == new_id


def test_fetch_into_a_full_disk_fails_cleanly(pair: tuple[Peer, Peer]) -> None:
    """ENOSPC in the middle of a fetch: one line, exit 11, no ref moved, the store as
    it was (fsck clean), and the repository and daemon go on working."""
    alice, bob = pair
    make_origin(alice, {"big.bin": os.urandom(16 * 1024 * 1024)})
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    mine = bob.box.work / "mine"
    (mine / ".cof").mkdir(parents=True)
    with small_tmpfs(mine / ".cof", "8m"):
        try:
            bob.cof("init", mine)
            commit_file(bob, mine, "own.txt", b"mine\n", "own")
            bob.cof("remote", "add", "alice", alice.url("proj"), cwd=mine)
            full = bob.cof("fetch", "alice", cwd=mine, check=False)
            assert full.returncode == 11 and "disk full" in full.stderr, full.stderr
            assert len(full.stderr.strip().splitlines()) == 1
            assert not list((mine / ".cof" / "refs" / "remotes").rglob("*"))
            assert bob.cof("fsck", cwd=mine).returncode == 0
            assert bob.cof("status", "--porcelain", cwd=mine).stdout == ""
            commit_file(bob, mine, "more.txt", b"more\n", "more")  # still writable
            assert len(json.loads(bob.cof("log", "--json", cwd=mine).stdout)) == 2
        finally:
            bob.box.stop_daemon()  # it holds files on the tmpfs open


def test_commit_runs_during_a_fetch_and_gc_waits_for_it(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A fetch takes no repository lock: add, commit and branch answer while its
    blocks are on the way (the fetch lets them into the store at a checkpoint); gc,
    which would sweep what the fetch stored but no ref reaches yet, waits for it.
    (Before, every writer waited for the whole transfer.)"""
    bob = Peer(sandbox_factory(), "Bob")
    fake, repo, proc = _start_held_fetch(bob, served=30)
    try:
        commit_file(bob, repo, "during.txt", os.urandom(50_000), "during the fetch")
        bob.cof("branch", "side", cwd=repo, timeout=10)
        gc = bob.popen("gc", "--prune=now", cwd=repo)
        time.sleep(1.0)
        assert gc.poll() is None, gc.communicate()  # waits for the fetch
        assert proc.poll() is None  # the fetch is still waiting for its blocks
        assert fake.release is not None
        fake.release.set()  # the held blocks go out to the waiting fetch
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        _, gc_err = gc.communicate(timeout=60)
        assert gc.returncode == 0, gc_err
    finally:
        fake.close()
    assert json.loads(out)["updated"][0]["ref"] == "refs/remotes/fake/main"
    assert all(n == 1 for n in fake.requested.values())
    assert bob.cof("fsck", cwd=repo).returncode == 0
    assert bob.cof("log", "-n", "1", "fake/main", cwd=repo).returncode == 0
    log = json.loads(bob.cof("log", "--json", cwd=repo).stdout)
    assert log[0]["message"] == "during the fetch\n"


def test_gc_on_the_serving_side_waits_for_a_fetch_it_serves(pair: tuple[Peer, Peer]) -> None:
    """A Lacking page promises blocks that the peer asks for later: a gc of the serving
    repository meanwhile must not delete them, even once no ref reaches them any more.
    The fetching daemon is stopped (SIGSTOP) in mid-transfer while the served branch is
    deleted and gc runs on the serving side: gc waits for the session, then the fetch
    completes and both stores check clean. (Before, gc swept the listed blocks and the
    fetch failed with blocks missing.)"""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"})
    alice.cof("checkout", "-b", "topic", cwd=origin)
    data = os.urandom(32 * 1024 * 1024)
    commit_file(alice, origin, "big.bin", data, "big")
    alice.cof("checkout", "main", cwd=origin)

    proc = _start_until_stored(bob, ("fetch", "--json"), copy, copy, 4 * 1024 * 1024)
    pid = bob.box.daemon_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        alice.cof("branch", "-D", "topic", cwd=origin)
        # Reflogs are gc roots: once expired, nothing on the serving side reaches
        # big.bin's blocks any more.
        alice.cof("reflog", "expire", "--expire=now", "--all", cwd=origin)
        gc = alice.popen("gc", "--prune=now", "--json", cwd=origin)
        time.sleep(1.5)
        assert gc.poll() is None, gc.communicate()  # waits for the serving session
    finally:
        os.kill(pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    gc_out, gc_err = gc.communicate(timeout=60)
    assert gc.returncode == 0, gc_err
    assert json.loads(gc_out)["deleted_blocks"] >= len(data) // 4096  # after the fetch
    assert any(r["ref"] == "refs/remotes/origin/topic" for r in json.loads(out)["updated"])
    for peer, repo in ((alice, origin), (bob, copy)):
        checked = peer.cof("fsck", cwd=repo, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    bob.cof("checkout", "origin/topic", "--", "big.bin", cwd=copy)
    assert (copy / "big.bin").read_bytes() == data


def test_gc_waiting_for_a_serving_session_blocks_neither_it_nor_commands(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """gc takes the prune lock before the repository lock: while it waits for a
    session serving a fetch, that session still lists (a Want takes the repository
    lock shared) and local commands answer; gc runs once the session has ended.
    (In the other order, gc held the repository lock while it waited: the session's
    next Want waited for gc, and gc for the session, until the peer gave up.)"""
    alice = Peer(sandbox_factory(), "Alice")
    origin = make_origin(alice, {"f.txt": b"content\n"})
    identity = Identity.generate()
    alice.cof("peer", "grant", identity.public.hex(), "proj", "--read")
    main = m.BlockId(bytes.fromhex(head_of(alice, origin)))
    with raw_session(alice, identity) as (conn, sock, events):

        def page() -> m.Message:
            rid = conn.send_request(m.Want("proj", (main,), (), 0))
            _drive(
                conn, sock, events, lambda: any(getattr(e, "request_id", 0) == rid for e in events)
            )
            return next(e.message for e in events if getattr(e, "request_id", 0) == rid)

        assert isinstance(page(), m.Lacking)
        gc = alice.popen("gc", "--prune=now", cwd=origin)
        time.sleep(1.0)
        assert gc.poll() is None, gc.communicate()  # waits for the session
        assert alice.cof("status", "--porcelain", cwd=origin, timeout=10).stdout == ""
        again = page()
        assert isinstance(again, m.Lacking) and again.complete, again
        assert gc.poll() is None
    _, err = gc.communicate(timeout=30)
    assert gc.returncode == 0, err


def test_a_serving_daemon_admits_max_fetches_at_once(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """`[peer] max_fetches` bounds the sessions listing at once (each holds listing
    memory until it ends): one more is told it is busy, in one line; once a session
    ends, the next fetch is admitted."""
    alice = Peer(sandbox_factory(), "Alice", "max_fetches = 1\n")  # in [peer]
    bob = Peer(sandbox_factory(), "Bob")
    origin = make_origin(alice, {"f.txt": b"content\n"})
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    identity = Identity.generate()
    alice.cof("peer", "grant", identity.public.hex(), "proj", "--read")

    with raw_session(alice, identity) as (conn, sock, events):
        main = m.BlockId(bytes.fromhex(head_of(alice, origin)))
        rid = conn.send_request(m.Want("proj", (main,), (), 0))  # a listing, left open
        _drive(
            conn, sock, events, lambda: any(getattr(e, "request_id", None) == rid for e in events)
        )
        busy = bob.cof("clone", alice.url("proj"), "copy", check=False)
        assert busy.returncode == 15, busy.stderr
        assert "busy: serving 1 fetches already ([peer] max_fetches = 1" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1
        assert not (bob.box.work / "copy").exists()
    deadline = time.monotonic() + 10
    while True:  # the server drops the session once the CLOSE arrives
        done = bob.cof("clone", alice.url("proj"), "copy", check=False)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert done.returncode == 0, done.stderr
    assert (bob.box.work / "copy" / "f.txt").read_bytes() == b"content\n"


def test_peers_of_different_protocol_versions_say_so(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A daemon answers an INIT of another version with its own version; a client
    told so by a (future) server fails at once with both versions named, instead of
    waiting out the handshake budget."""
    alice = Peer(sandbox_factory(), "Alice")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.settimeout(5)
        raw.connect(("127.0.0.1", alice.port))
        future_init = bytes([(9 << 4) | wire.INIT]) + b"\x01\x02\x03\x04" + bytes(96)
        raw.send(future_init)
        notice = raw.recv(2048)
    assert notice == bytes([(limits.PROTOCOL_VERSION << 4) | 15]) + b"\x01\x02\x03\x04"

    future = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a version-9 daemon
    future.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        future.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                data, addr = future.recvfrom(2048)
                if data[0] & 0x0F == wire.INIT:
                    future.sendto(bytes([(9 << 4) | 15]) + data[1:5], addr)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        url = f"cof://{alice.key}@127.0.0.1:{future.getsockname()[1]}/proj"
        started = time.monotonic()
        failed = alice.cof("clone", url, "copy", check=False)
    finally:
        stop.set()
        thread.join(5)
        future.close()
    assert failed.returncode == 15, failed.stderr
    assert f"speaks peer protocol version 9, this cofd version {limits.PROTOCOL_VERSION}" in (
        failed.stderr
    )
    assert time.monotonic() - started < 5
    assert not (alice.box.work / "copy").exists()


def _git_twin(tmp_path: Path) -> tuple[Path, Path]:
    """A git origin (one commit on main) and a git clone of it: (origin, copy)."""
    origin, copy = tmp_path / "git-origin", tmp_path / "git-copy"
    _git("init", "-q", "-b", "main", origin, cwd=tmp_path)
    (origin / "f.txt").write_text("base\n")
    _git("add", "f.txt", cwd=origin)
    _git("commit", "-q", "-m", "initial", cwd=origin)
    _git("clone", "-q", origin, copy, cwd=tmp_path)
    return origin, copy


def test_push_asks_the_remote_instead_of_trusting_the_tracking_branch_as_git_does(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    """Whether a push has anything to do is the remote's answer, not what the local
    remote-tracking branch last saw: a branch deleted there since is pushed again (git:
    ``* [new branch]``), a branch the remote already has at the local commit is
    "Everything up-to-date" and its remote-tracking branch is made, and a peer that may
    no longer write is told so even with nothing to send."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--write")
    git_origin, git_copy = _git_twin(tmp_path)
    bob.cof("checkout", "-b", "tmp", cwd=copy)
    _git("checkout", "-q", "-b", "tmp", cwd=git_copy)
    bob.cof("push", "-u", "origin", "tmp", cwd=copy)
    _git("push", "-q", "-u", "origin", "tmp", cwd=git_copy)
    alice.cof("branch", "-D", "tmp", cwd=origin)
    _git("branch", "-D", "tmp", cwd=git_origin)

    theirs = _git_run("push", cwd=git_copy)
    assert "[new branch]" in theirs.stderr and "tmp" in _git("branch", cwd=git_origin)
    again = bob.cof("push", cwd=copy)
    assert "Everything up-to-date" not in again.stdout
    assert again.stdout.startswith(f"To cof://127.0.0.1:{alice.port}/proj\n")
    assert alice.cof("branch", cwd=origin).stdout == "* main\n  tmp\n"
    assert bob.cof("push", cwd=copy).stdout == "Everything up-to-date\n"

    # The remote made `same` at Bob's commit: nothing to send, and origin/same appears.
    alice.cof("branch", "same", cwd=origin)
    _git("branch", "same", cwd=git_origin)
    bob.cof("branch", "same", "main", cwd=copy)
    _git("branch", "-q", "same", "main", cwd=git_copy)
    assert "up-to-date" in _git_run("push", "origin", "same", cwd=git_copy).stderr
    assert bob.cof("push", "origin", "same", cwd=copy).stdout == "Everything up-to-date\n"
    assert _remote_branches_like_git(bob, copy, git_copy) == [
        "  origin/main",
        "  origin/same",
        "  origin/tmp",
    ]

    # Read access only, then none: refused, though there is nothing to send.
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    denied = bob.cof("push", cwd=copy, check=False)
    assert denied.returncode == 16 and "no write access" in denied.stderr, denied.stderr
    assert "up-to-date" not in denied.stdout
    alice.cof("peer", "revoke", bob.key, "proj")
    revoked = bob.cof("push", cwd=copy, check=False)
    assert revoked.returncode == 16 and "up-to-date" not in revoked.stdout, revoked.stderr


def test_push_refuses_an_upstream_of_another_name_as_git_push_default_simple(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    """A plain push from a branch whose upstream has another name (``checkout -b fix
    origin/main``, or main renamed) is refused in one line, as git's push.default
    simple, instead of making a new remote branch and staying "ahead" forever; naming
    the branch pushes it to the remote's branch of the same name."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--write")
    _, git_copy = _git_twin(tmp_path)
    bob.cof("checkout", "-b", "fix", "origin/main", cwd=copy)
    _git("checkout", "-q", "-b", "fix", "origin/main", cwd=git_copy)
    mine = commit_file(bob, copy, "f.txt", b"fix\n", "fix")
    (git_copy / "f.txt").write_text("fix\n")
    _git("commit", "-q", "-am", "fix", cwd=git_copy)
    ahead = "Your branch is ahead of 'origin/main' by 1 commit."
    assert ahead in _git("status", cwd=git_copy)
    assert ahead in bob.cof("status", cwd=copy).stdout

    theirs = _git_run("push", cwd=git_copy, check=False)
    assert theirs.returncode == 128 and "does not match\nthe name" in theirs.stderr
    for args in (("push",), ("push", "origin"), ("push", "-u"), ("push", "-f")):
        refused = bob.cof(*args, cwd=copy, check=False)
        assert refused.returncode == 2, (args, refused.stderr)
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "(origin/main) does not match its name" in refused.stderr
        assert "cof push origin fix" in refused.stderr and "cof branch -u" in refused.stderr
    assert alice.cof("branch", cwd=origin).stdout == "* main\n"
    assert ahead in bob.cof("status", cwd=copy).stdout

    # Named, it goes to the remote's fix (status still compares with origin/main, as
    # git's does); with -u, fix then tracks origin/fix and a plain push is fine.
    bob.cof("push", "origin", "fix", cwd=copy)
    assert alice.cof("branch", cwd=origin).stdout == "  fix\n* main\n"
    assert ahead in bob.cof("status", cwd=copy).stdout
    bob.cof("push", "-u", "origin", "fix", cwd=copy)
    assert bob.cof("push", cwd=copy).stdout == "Everything up-to-date\n"
    assert "up to date with 'origin/fix'" in bob.cof("status", cwd=copy).stdout

    # main renamed to trunk keeps tracking origin/main: refused the same way.
    bob.cof("checkout", "main", cwd=copy)
    bob.cof("branch", "-m", "main", "trunk", cwd=copy)
    commit_file(bob, copy, "t.txt", b"trunk\n", "on trunk")
    refused = bob.cof("push", cwd=copy, check=False)
    assert refused.returncode == 2 and "'trunk' (origin/main)" in refused.stderr
    # To another remote than the upstream's, the same name is pushed (git's triangular).
    bob.cof("remote", "add", "mirror", alice.url("proj"), cwd=copy)
    bob.cof("push", "mirror", cwd=copy)
    assert alice.cof("branch", cwd=origin).stdout == "  fix\n* main\n  trunk\n"
    assert head_of(alice, origin) != mine  # main itself never moved
