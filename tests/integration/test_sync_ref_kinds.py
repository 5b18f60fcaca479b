"""A synced ref must name an object of its kind, as git's: a branch a commit, a tag a
commit or an annotated tag of one. Hostile peers, against real daemons: a pusher
offering a branch at a tag object or at a tree (refused for that ref, nothing
written, the daemon keeps serving), and a server listing such refs (the fetch skips
them, each with its rejected line, moves the others and exits 10; ``cof fsck``
passes).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from cofd.objects.model import Signature, Tag, Tree
from cofd.store.ids import BlockId, hash_block
from protocol.errors import AccessDeniedError
from protocol.peer import events as ev
from protocol.peer import messages as m
from protocol.peer.connection import Connection
from protocol.peer.crypto import Identity
from tests.integration.conftest import CofSandbox
from tests.integration.test_sync import (
    FakeServer,
    Peer,
    _crafted_repo,
    _drive,
    commit_file,
    head_of,
    make_origin,
    raw_session,
)

MALLORY = Signature("Mallory", "m@example.com", 1_700_000_000, 0)


def _tag_of(target: bytes, name: str = "evil") -> bytes:
    return Tag(target, name, MALLORY, "a tag, not a commit").encode()  # type: ignore[arg-type]


def _push(alice: Peer, offer: m.PushOffer, blocks: dict[bytes, bytes]) -> object:
    """``offer`` pushed to ``alice`` over a raw session by a new write-granted peer
    serving ``blocks``: the PushResult, or the error it failed with."""
    identity = Identity.generate()
    alice.cof("peer", "grant", identity.public.hex(), "proj", "--write")
    answer: list[object] = []
    with raw_session(alice, identity) as (conn, sock, events):
        rid = conn.send_request(offer)
        seen = 0

        def serve() -> bool:  # called between datagrams: answer what the daemon asked
            nonlocal seen
            for event in events[seen:]:
                if isinstance(event, ev.RequestReceived) and isinstance(event.message, m.Want):
                    ids = tuple(BlockId(i) for i in blocks)
                    conn.send_response(event.request_id, m.Lacking(ids, 0, True))
                elif isinstance(event, ev.BlocksRequested):
                    for slot, block_id in event.blocks:
                        conn.send_block(slot, blocks[block_id])
                elif isinstance(event, ev.ResponseReceived) and event.request_id == rid:
                    answer.append(event.message)
                elif isinstance(event, ev.RequestFailed) and event.request_id == rid:
                    answer.append(event.error)
            seen = len(events)
            return bool(answer)

        _drive(conn, sock, events, serve)
    assert answer, "the daemon never answered the push"
    return answer[0]


def _listed_refs(alice: Peer) -> dict[str, bytes]:
    """The refs ``alice``'s daemon lists to a new read-granted peer (it keeps serving)."""
    identity = Identity.generate()
    alice.cof("peer", "grant", identity.public.hex(), "proj", "--read")
    with raw_session(alice, identity) as (conn, sock, events):
        rid = conn.send_request(m.ListRefs("proj"))
        _drive(
            conn, sock, events, lambda: any(getattr(e, "request_id", None) == rid for e in events)
        )
        [reply] = [e.message for e in events if isinstance(e, ev.ResponseReceived)]
    assert isinstance(reply, m.Refs), reply
    return dict(reply.refs)


def test_a_push_may_not_make_a_branch_name_a_tag_object_or_a_tree(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """One offer: a branch at a commit (moves), branches at an annotated tag object
    (one the pusher sends, one already there) and at a tree, and tags at a tag object
    (moves) and at a tree: each wrong one refused with its reason, nothing written
    for it. A tree the receiver lacks is brought alone and refused the same."""
    alice = Peer(sandbox_factory(), "Alice")
    origin = make_origin(alice, {"f.txt": b"base\n"})
    head = bytes.fromhex(head_of(alice, origin))
    log = json.loads(alice.cof("log", "-n", "1", "--json", cwd=origin).stdout)
    tree = bytes.fromhex(log[0]["tree"])
    sent_tag = _tag_of(head)
    offer = m.PushOffer(
        "proj",
        (
            m.RefUpdate("refs/heads/good", None, head),
            m.RefUpdate("refs/heads/at-tag", None, hash_block(sent_tag)),
            m.RefUpdate("refs/heads/at-tree", None, tree),
            m.RefUpdate("refs/tags/annotated", None, hash_block(sent_tag)),
            m.RefUpdate("refs/tags/at-tree", None, tree),
        ),
    )
    result = _push(alice, offer, {hash_block(sent_tag): sent_tag})
    assert isinstance(result, m.PushResult), result
    not_a_commit = "not a commit: an annotated tag object (a branch must name a commit)"
    assert dict((name, (ok, why)) for name, ok, why in result.results) == {
        "refs/heads/good": (True, "updated"),
        "refs/heads/at-tag": (False, not_a_commit),
        "refs/heads/at-tree": (False, "not a commit: a tree (a branch must name a commit)"),
        "refs/tags/annotated": (True, "updated"),
        "refs/tags/at-tree": (False, "not a commit or an annotated tag: a tree"),
    }, result

    # The tag object is stored there now: refused before any transfer.
    again = m.PushOffer("proj", (m.RefUpdate("refs/heads/at-tag", None, hash_block(sent_tag)),))
    assert _push(alice, again, {}) == m.PushResult((("refs/heads/at-tag", False, not_a_commit),))

    # A tree the receiver lacks, sent by the pusher: that ref alone is refused.
    _, blocks = _crafted_repo("x.bin")
    [fresh] = [block_id for block_id, data in blocks.items() if _is_tree(data)]
    fresh_offer = m.PushOffer("proj", (m.RefUpdate("refs/heads/fresh", None, fresh),))
    refused = _push(alice, fresh_offer, blocks)
    not_a_tree = "not a commit: a tree (a branch must name a commit)"
    assert refused == m.PushResult((("refs/heads/fresh", False, not_a_tree),)), refused

    assert alice.cof("branch", cwd=origin).stdout == "  good\n* main\n"
    assert alice.cof("tag", cwd=origin).stdout == "annotated\n"
    alice.cof("fsck", cwd=origin)
    listed = _listed_refs(alice)  # the daemon keeps serving
    assert sorted(listed) == ["refs/heads/good", "refs/heads/main", "refs/tags/annotated"]


def _is_tree(data: bytes) -> bool:
    try:
        Tree.decode(data)
    except Exception:
        return False
    return True


def test_a_fetch_writes_no_ref_to_an_object_of_the_wrong_kind(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A server listing a branch at an annotated tag object, at a tree (one stored
    here already), or a tag at a tree: the fetch skips that ref with its line (the
    good branch listed beside it moves) and exits 10 with one error line naming it;
    ``cof fsck`` passes."""
    bob = Peer(sandbox_factory(), "Bob")
    mine = bob.box.work / "mine"
    bob.cof("init", mine)
    refs, blocks = _crafted_repo("x.bin")
    commit = refs["refs/heads/main"]
    [tree] = [block_id for block_id, data in blocks.items() if _is_tree(data)]
    tag = _tag_of(commit)
    blocks[hash_block(tag)] = tag
    fake = FakeServer({**refs, "refs/heads/x": hash_block(tag)}, blocks, lie=False)
    try:
        bob.cof("remote", "add", "evil", fake.url("evil"), cwd=mine)
        at_tag = bob.cof("fetch", "evil", cwd=mine, check=False)
        fake.refs = dict(refs)
        bob.cof("fetch", "evil", cwd=mine)
        fake.refs = {**refs, "refs/heads/t": tree}
        at_tree = bob.cof("fetch", "evil", cwd=mine, check=False)
        fake.refs = {**refs, "refs/tags/t": tree}
        tag_at_tree = bob.cof("fetch", "evil", cwd=mine, check=False)
    finally:
        fake.close()
    for failed, why in (
        (
            at_tag,
            f"cof: not fetched: refs/heads/x ({hash_block(tag).hex()[:12]}) of cof://127.0.0.1:"
            f"{fake.port}/evil is not a commit: an annotated tag object",
        ),
        (at_tree, f"not fetched: refs/heads/t ({tree.hex()[:12]}) of "),
        (tag_at_tree, "not fetched: refs/tags/t ("),
    ):
        assert failed.returncode == 10 and why in failed.stderr, failed.stderr
        assert failed.stderr.count("cof: ") == 1 and " ! [rejected]" in failed.stdout
    assert "not a commit or an annotated tag: a tree" in tag_at_tree.stderr
    assert bob.cof("branch", "-r", cwd=mine).stdout == "  evil/main\n"
    assert bob.cof("tag", cwd=mine).stdout == ""
    bob.cof("fsck", cwd=mine)


def _ask(conn: Connection, sock: socket.socket, events: list[ev.Event], msg: m.Message) -> object:
    """Send request ``msg`` on a raw session; its answer: the reply, or the error."""
    rid = conn.send_request(msg)
    _drive(conn, sock, events, lambda: any(getattr(e, "request_id", None) == rid for e in events))
    [done] = [e for e in events if getattr(e, "request_id", None) == rid]
    return done.error if isinstance(done, ev.RequestFailed) else done.message  # type: ignore[attr-defined]


def _blocks_failed(
    conn: Connection, sock: socket.socket, events: list[ev.Event], ids: list[bytes]
) -> bool:
    """Whether the daemon refused every block of ``ids`` (none arrived)."""
    before = len(events)
    conn.fetch_blocks([m.BlockId(i) for i in ids])

    def answered() -> set[bytes]:
        done = {e.block_id for e in events[before:] if isinstance(e, ev.BlockFailed)}
        for e in events[before:]:
            if isinstance(e, ev.BlocksReceived):
                done.update(block_id for block_id, _ in e.blocks)
        return done

    _drive(conn, sock, events, lambda: answered() >= set(ids))
    return not any(isinstance(e, ev.BlocksReceived) for e in events[before:])


def test_a_peer_gets_only_what_the_refs_it_was_shown_name(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """git's "not our ref": a read-granted peer naming the commit of a deleted branch
    (stored, not collected yet) or a tree no shown ref names gets an error naming the
    id, nothing listed and none of its blocks. A value listed to it on its connection
    stays fetchable there after the ref moved (a raced fetch), not on another. Ids
    listed from one share are not served from another on the same connection."""
    alice = Peer(sandbox_factory(), "Alice")
    origin = make_origin(alice, {"public.txt": b"public\n"})
    main = bytes.fromhex(head_of(alice, origin))
    secret = b"committed by mistake, then its branch deleted\n"
    alice.cof("checkout", "-q", "-b", "oops", cwd=origin)
    oops = bytes.fromhex(commit_file(alice, origin, "secret.txt", secret, "oops"))
    log = json.loads(alice.cof("log", "-n", "1", "--json", cwd=origin).stdout)
    oops_tree = bytes.fromhex(log[0]["tree"])
    alice.cof("checkout", "-q", "main", cwd=origin)
    alice.cof("branch", "-D", "oops", cwd=origin)
    other = alice.box.work / "other"
    alice.cof("init", other)
    commit_file(alice, other, "public.txt", b"public\n", "the same file")
    alice.cof("share", "other", cwd=other)
    identity = Identity.generate()
    for share in ("proj", "other"):
        alice.cof("peer", "grant", identity.public.hex(), share, "--read")

    with raw_session(alice, identity) as (conn, sock, events):
        listed = _ask(conn, sock, events, m.ListRefs("proj"))
        assert isinstance(listed, m.Refs) and dict(listed.refs) == {"refs/heads/main": main}
        for hidden in (oops, oops_tree):
            refused = _ask(conn, sock, events, m.Want("proj", (m.BlockId(hidden),), (), 0))
            assert isinstance(refused, AccessDeniedError), refused
            assert f"not our ref {hidden.hex()}" in refused.message, refused
        assert _blocks_failed(conn, sock, events, [hash_block(secret), oops, oops_tree])

        moved = bytes.fromhex(commit_file(alice, origin, "public.txt", b"moved\n", "moved"))
        page = _ask(conn, sock, events, m.Want("proj", (m.BlockId(main),), (), 0))
        assert isinstance(page, m.Lacking) and main in page.ids, page  # listed here before
        assert not _blocks_failed(conn, sock, events, [main])
        # Another share on the same connection: what proj listed is not served from it
        # (which would tell the peer that it holds that block too).
        assert isinstance(_ask(conn, sock, events, m.ListRefs("other")), m.Refs)
        assert _blocks_failed(conn, sock, events, [hash_block(b"public\n")])

    with raw_session(alice, identity) as (conn, sock, events):  # main was never shown here
        stale = _ask(conn, sock, events, m.Want("proj", (m.BlockId(main),), (), 0))
        assert isinstance(stale, AccessDeniedError) and main.hex() in stale.message, stale
        page = _ask(conn, sock, events, m.Want("proj", (m.BlockId(moved),), (), 0))
        assert isinstance(page, m.Lacking) and moved in page.ids, page
        assert not any(i in page.ids for i in (oops, oops_tree, hash_block(secret)))
