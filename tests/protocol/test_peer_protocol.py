"""Client and server protocol endpoints over a simulated network (no sockets, no clock)."""

from __future__ import annotations

import itertools

import blake3
import pytest

from protocol.errors import PeerError, PeerTimeoutError, UsageError
from protocol.peer import connection as connection_module
from protocol.peer import crypto, limits, wire
from protocol.peer import events as ev
from protocol.peer import messages as m
from protocol.peer.connection import Connection, PeerConfig, State
from protocol.peer.listener import Listener
from tests.protocol.simnet import (
    CLIENT_ADDR,
    SERVER_ADDR,
    BlockServer,
    Harness,
    Link,
    make_blocks,
    seeded_rng,
)


def _fetch_all(h: Harness, ids: list, limit: float = 120.0) -> None:
    h.client.fetch_blocks(ids)
    done = lambda: len(h.blocks_received()) + len(h.events_of(ev.BlockFailed)) >= len(ids)  # noqa: E731
    h.run(done, limit=limit)


def test_4k_block_travels_in_three_full_datagrams() -> None:
    assert wire.block_fragment_sizes(4096, 1400) == [1366, 1365, 1365]
    blocks = make_blocks(1, seed=7)
    h = Harness(server=BlockServer(blocks))
    _fetch_all(h, list(blocks))
    [(block_id, data)] = h.blocks_received().items()
    assert data == blocks[block_id]
    big = [d for _, src, d in h.net.sent if src == SERVER_ADDR and len(d) > 1000]
    assert len(big) == 3 and all(len(d) <= 1400 for d in big)
    # Overhead is 31 bytes; the fragments are padded to one size (a GSO-friendly run).
    assert [len(d) for d in big] == [1366 + 31] * 3


@pytest.mark.parametrize(("loss", "seed"), [(0.0, 1), (0.05, 2), (0.15, 3), (0.3, 4), (0.3, 5)])
def test_transfer_completes_and_verifies_under_impairment(loss: float, seed: int) -> None:
    blocks = make_blocks(120, seed=seed)
    link = Link(loss=loss, duplicate=0.05, reorder=0.2, delay=0.002)
    h = Harness(link, seed=seed, server=BlockServer(blocks))
    _fetch_all(h, list(blocks))
    got = h.blocks_received()
    assert not h.events_of(ev.BlockFailed)
    assert got == blocks
    assert all(blake3.blake3(d).digest() == i for i, d in got.items())
    assert h.client.stats["datagrams_received"] > 0
    assert all(len(d) <= 1400 for _, _, d in h.net.sent)


def test_requests_and_responses_round_trip_including_errors() -> None:
    blocks = make_blocks(3, seed=9)
    h = Harness(Link(loss=0.1), seed=9, server=BlockServer(blocks))
    refs = h.client.send_request(m.ListRefs("repo"))
    want = h.client.send_request(m.Want("repo", (m.BlockId(bytes(32)),), ()))
    bad = h.client.send_request(m.PushOffer("repo", (), False))
    h.run(lambda: len(h.events_of(ev.ResponseReceived)) + len(h.events_of(ev.RequestFailed)) == 3)
    answers = {e.request_id: e.message for e in h.events_of(ev.ResponseReceived)}
    assert answers[refs] == m.Refs((("main", bytes(32)),), "main")
    assert isinstance(answers[want], m.Lacking) and set(answers[want].ids) == set(blocks)
    [failed] = h.events_of(ev.RequestFailed)
    assert failed.request_id == bad and isinstance(failed.error, UsageError)
    assert "cof://server/repo" in failed.error.message


def test_large_message_is_fragmented_and_reassembled() -> None:
    blocks = make_blocks(3000, seed=11, size=8)  # Lacking of 3000 ids: ~100 KB
    h = Harness(Link(loss=0.1, reorder=0.3), seed=11, server=BlockServer(blocks))
    rid = h.client.send_request(m.Want("repo", (), ()))
    h.run(lambda: bool(h.events_of(ev.ResponseReceived)))
    [resp] = h.events_of(ev.ResponseReceived)
    assert resp.request_id == rid and set(resp.message.ids) == set(blocks)


def test_corrupt_block_is_dropped_rerequested_then_fails() -> None:
    blocks = make_blocks(4, seed=12)
    bad = next(iter(blocks))
    config = PeerConfig(timeout_ms=500, max_retries=2)
    h = Harness(config=config, server=BlockServer(blocks, corrupt={bad}))
    _fetch_all(h, list(blocks))
    assert set(h.blocks_received()) == set(blocks) - {bad}
    [failed] = h.events_of(ev.BlockFailed)
    assert failed.block_id == bad and "corrupt" in failed.error.message
    assert h.client._fetcher.corrupt_blocks == 3  # first try + max_retries


def test_missing_block_fails_with_peer_error() -> None:
    h = Harness(server=BlockServer({}))
    _fetch_all(h, [m.BlockId(b"\x01" * 32)])
    [failed] = h.events_of(ev.BlockFailed)
    assert isinstance(failed.error, PeerError) and "does not have" in failed.error.message


def test_gives_up_after_budget_with_error_naming_peer_and_no_busy_loop() -> None:
    blocks = make_blocks(50, seed=13)
    config = PeerConfig(timeout_ms=200, max_retries=2)
    h = Harness(config=config, server=BlockServer(blocks))
    h.run(lambda: h.client.state is State.ESTABLISHED)
    h.net.link.blackhole_after = start = h.now
    _fetch_all(h, list(blocks), limit=30)
    failures = h.events_of(ev.BlockFailed)
    assert failures and all(isinstance(f.error, PeerTimeoutError) for f in failures)
    assert "cof://server/repo" in failures[0].error.message
    failed_at = max(t for t, e in h.client_events if isinstance(e, ev.BlockFailed))
    assert config.budget <= failed_at - start <= config.budget + 0.1
    terminated = h.events_of(ev.ConnectionTerminated)
    assert terminated and isinstance(terminated[0].error, PeerTimeoutError)
    assert h.wakeups < 200  # timers back off; nothing spins
    assert h.client.get_timer() is None


def test_handshake_gives_up_when_server_never_answers() -> None:
    config = PeerConfig(timeout_ms=300, max_retries=1)
    h = Harness(Link(loss=1.0), config=config)
    h.run(lambda: bool(h.events_of(ev.ConnectionTerminated)), limit=10)
    [term] = h.events_of(ev.ConnectionTerminated)
    assert isinstance(term.error, PeerTimeoutError) and "handshake" in term.error.message
    assert h.now == pytest.approx(config.budget, abs=0.01)
    assert h.wakeups < 20


def test_handshake_with_default_settings_gives_up_after_one_timeout_of_tries() -> None:
    # Silence (a wrong key, nobody at the address) is reported after timeout_ms, not
    # after the whole request budget of timeout_ms x (max_retries + 1) = 20 s.
    config = PeerConfig()
    h = Harness(Link(loss=1.0), config=config)
    h.run(lambda: bool(h.events_of(ev.ConnectionTerminated)), limit=60)
    assert h.now == pytest.approx(config.timeout, abs=0.01) and config.budget == 20
    [term] = h.events_of(ev.ConnectionTerminated)
    assert isinstance(term.error, PeerTimeoutError)
    assert "did not answer the handshake within 5 s" in term.error.message
    # Backoff 0.4 s, then 0.5 s apart: enough tries to get through 30 % loss each way.
    assert sum(1 for _, src, _ in h.net.sent if src == CLIENT_ADDR) == 11


def test_client_with_wrong_server_key_never_connects() -> None:
    config = PeerConfig(timeout_ms=200, max_retries=1)
    h = Harness(config=config)
    h.client = Connection.client(
        h.client_identity,
        crypto.Identity.generate(seeded_rng(99)).public,
        SERVER_ADDR,
        config=config,
        rng=seeded_rng(98),
    )
    h.run(lambda: bool(h.events_of(ev.ConnectionTerminated)), limit=10)
    assert h.listener.stats["dropped_unauthenticated"] >= 1
    assert not h.listener.connections
    assert not h.server_events


def _established(seed: int = 20) -> Harness:
    h = Harness(seed=seed, server=BlockServer(make_blocks(2, seed=seed)))
    h.client.send_request(m.ListRefs("repo"))
    h.run(lambda: bool(h.events_of(ev.ResponseReceived)))
    return h


def test_hostile_datagrams_are_dropped_silently_and_counted() -> None:
    h = _established()
    conn = next(iter(h.listener.connections.values()))
    captured = [d for _, src, d in h.net.sent if src == CLIENT_ADDR and d[0] & 15 == wire.DATA]
    h.now += 0.1  # let delayed ACKs of the legitimate exchange go out first
    h.flush()
    sent_before = len(h.net.sent)
    events_before = len(h.server_events)
    for data in captured:  # replayed, authenticated packets
        h.listener.receive_datagram(data, CLIENT_ADDR, h.now)
    assert conn.stats["dropped_replayed"] == len(captured)
    forged = wire.data_header(conn.local_cid, 10_000) + bytes(40)
    h.listener.receive_datagram(forged, CLIENT_ADDR, h.now)
    h.listener.receive_datagram(captured[0][:20], CLIENT_ADDR, h.now)  # truncated
    tampered = wire.data_header(conn.local_cid, 20_000) + captured[0][limits.HEADER_SIZE :]
    h.listener.receive_datagram(tampered, CLIENT_ADDR, h.now)  # header is authenticated too
    h.listener.receive_datagram(bytes(2000), CLIENT_ADDR, h.now)  # oversized
    h.listener.receive_datagram(b"\x17garbage", CLIENT_ADDR, h.now)  # wrong version (1)
    h.listener.receive_datagram(captured[0], ("10.9.9.9", 1), h.now)  # other address
    assert conn.stats["dropped_unauthenticated"] == 2
    assert conn.stats["dropped_malformed"] == 1
    assert h.listener.stats["dropped_oversized"] == 1
    assert h.listener.stats["dropped_malformed"] == 1
    assert h.listener.stats["dropped_unauthenticated"] == 1
    h.client.receive_datagram(bytes(30), SERVER_ADDR, h.now)
    h.client.receive_datagram(bytes([wire.type_byte(wire.DATA)]) + bytes(30), SERVER_ADDR, h.now)
    assert h.client.stats["dropped_malformed"] + h.client.stats["dropped_unauthenticated"] == 2
    h.flush()
    h.drain()
    assert len(h.net.sent) == sent_before  # never answered
    assert len(h.server_events) == events_before
    assert conn.state is State.ESTABLISHED and h.client.state is State.ESTABLISHED


def test_server_keeps_serving_after_hostile_input() -> None:
    h = _established(21)
    for size in (1, 9, 25, 100, 1400):
        h.listener.receive_datagram(
            bytes([wire.type_byte(wire.DATA)]) + bytes(size), CLIENT_ADDR, h.now
        )
    rid = h.client.send_request(m.ListRefs("repo"))
    h.run(lambda: any(e.request_id == rid for e in h.events_of(ev.ResponseReceived)))
    assert any(e.request_id == rid for e in h.events_of(ev.ResponseReceived))


def test_no_amplification_and_no_state_before_cookie() -> None:
    identity = crypto.Identity.generate(seeded_rng(30))
    h = Harness(seed=30)
    listener = h.listener
    init = crypto.InitiatorHandshake(identity, h.server_identity.public, 77, seeded_rng(31))
    packets = [
        init.init_packet(),
        init.init_packet(b"\x00" * wire.COOKIE_SIZE),  # forged cookie
    ]
    for packet in packets:
        listener.receive_datagram(packet, ("10.0.0.5", 5), 0.0)
        replies = listener.datagrams_to_send(0.0)
        assert replies and all(
            len(r) <= limits.AMPLIFICATION_FACTOR * len(packet) for r, _ in replies
        )
        assert not listener.connections
    cookie = wire.CookiePacket.from_wire(replies[0][0]).cookie
    listener.receive_datagram(init.init_packet(cookie), ("10.0.0.6", 5), 0.0)  # other address
    assert not listener.connections
    assert [len(r) for r, _ in listener.datagrams_to_send(0.0)] == [wire.COOKIE_PACKET_SIZE]
    listener.receive_datagram(init.init_packet(cookie), ("10.0.0.5", 5), 0.0)
    assert len(listener.connections) == 1
    listener.receive_datagram(init.init_packet(cookie), ("10.0.0.5", 5), 0.0)  # duplicate INIT
    assert len(listener.connections) == 1
    replies = listener.datagrams_to_send(0.0)
    assert [len(r) for r, _ in replies] == [wire.RESPONSE_SIZE, wire.RESPONSE_SIZE]
    listener.handle_timer(limits.HANDSHAKE_TIMEOUT + 1)  # never confirmed: forgotten
    assert not listener.connections


def test_idle_connection_sleeps_until_idle_timeout() -> None:
    h = _established(22)
    h.run(lambda: False, limit=h.now + 5)
    assert h.client.state is State.ESTABLISHED
    h.run(lambda: bool(h.events_of(ev.ConnectionTerminated)), limit=100)
    [term] = h.events_of(ev.ConnectionTerminated)
    assert term.error is None
    assert h.wakeups < 60


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (bytes([wire.BLOCK_END, 0, 0]), "truncated block fragment"),
        (bytes([wire.BLOCK_PART, 0, 0, 0, 0x05, 0x00]) + bytes(100), "longer than its datagram"),
    ],
)
def test_authenticated_malformed_block_fragment_ends_the_session(payload: bytes, why: str) -> None:
    """A peer holding the session keys that sends a block fragment that does not parse
    violates the protocol: the receiver closes the session with that reason (no crash,
    nothing delivered), as for any other malformed authenticated frame."""
    h = _established(41)
    [server_conn] = h.listener.connections.values()
    server_conn._blocks.append(payload)  # sealed and sent like any queued fragment
    h.run(lambda: h.client.state is State.CLOSED, limit=5)
    assert h.client.state is State.CLOSED
    [ended] = h.events_of(ev.ConnectionTerminated)
    assert ended.error is not None and "violated the protocol" in ended.error.message
    assert why in ended.error.message
    assert not h.blocks_received()


def test_authenticated_fragment_for_an_unknown_slot_is_ignored() -> None:
    """A well-formed fragment nobody asked for (a late duplicate) changes nothing."""
    h = _established(42)
    [server_conn] = h.listener.connections.values()
    server_conn._blocks.append(wire.encode_block_frame(True, 777, 0, b"x" * 100))
    rid = h.client.send_request(m.ListRefs("repo"))
    h.run(lambda: any(e.request_id == rid for e in h.events_of(ev.ResponseReceived)))
    assert h.client.state is State.ESTABLISHED
    assert not h.blocks_received()


def test_a_session_ends_when_its_packet_numbers_run_out() -> None:
    """Packet numbers are nonces: none is ever used twice. A burst of block datagrams
    stops at the last number and the session ends there."""
    blocks = make_blocks(10, seed=43)
    h = Harness(seed=43, server=BlockServer(blocks))
    h.client.send_request(m.ListRefs("repo"))
    h.run(lambda: bool(h.events_of(ev.ResponseReceived)))
    [server_conn] = h.listener.connections.values()
    server_conn._next_pn = limits.MAX_PACKET_NUMBER - 5
    sent_before = len(h.net.sent)
    h.client.fetch_blocks(list(blocks))
    h.run(lambda: server_conn.state is State.CLOSED, limit=5)
    assert server_conn.state is State.CLOSED
    numbers = [
        wire.DATA_HEADER.unpack_from(d)[2]
        for _, src, d in h.net.sent[sent_before:]
        if src == SERVER_ADDR and d[0] & 15 == wire.DATA
    ]
    assert numbers and max(numbers) == limits.MAX_PACKET_NUMBER
    assert len(numbers) == len(set(numbers))


@pytest.fixture
def frequent_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip a packet number every 16-31 packets instead of every 1024-3071."""
    monkeypatch.setattr(connection_module, "SKIP_MIN", 16)
    monkeypatch.setattr(connection_module, "SKIP_SPREAD", 16)


def _server_numbers(h: Harness) -> list[int]:
    return [
        wire.DATA_HEADER.unpack_from(d)[2]
        for _, src, d in h.net.sent
        if src == SERVER_ADDR and d[0] & 15 == wire.DATA
    ]


@pytest.mark.usefixtures("frequent_skips")
def test_skipped_packet_numbers_are_never_sent_and_cost_an_honest_peer_nothing() -> None:
    blocks = make_blocks(400, seed=51)
    h = Harness(Link(loss=0.05, reorder=0.1, delay=0.002), seed=51, server=BlockServer(blocks))
    _fetch_all(h, list(blocks))
    assert set(h.blocks_received()) == set(blocks)
    [server_conn] = h.listener.connections.values()
    sent = set(_server_numbers(h))
    skipped = list(server_conn._skipped)
    assert len(skipped) == connection_module.SKIPS_KEPT  # 1200+ datagrams: many skips
    assert not sent & set(skipped)
    gaps = sorted(set(range(max(sent))) - sent)
    assert gaps[-len(skipped) :] == skipped
    # at least SKIP_MIN apart; a burst of block datagrams is not split for a skip
    assert all(b - a > 16 for a, b in itertools.pairwise(gaps)), gaps
    assert server_conn.state is State.ESTABLISHED


@pytest.mark.usefixtures("frequent_skips")
def test_a_peer_acknowledging_what_it_never_received_is_cut_off() -> None:
    """Optimistic ACKs (claiming every packet up to the newest, lost or not, to make
    the sender speed up) sooner or later claim a skipped number: the session ends."""
    blocks = make_blocks(150, seed=52)
    h = Harness(Link(loss=0.05), seed=52, server=BlockServer(blocks))
    h.client.send_request(m.ListRefs("repo"))
    h.run(lambda: bool(h.events_of(ev.ResponseReceived)))
    honest = h.client._ack_frame

    def optimistic(now: float) -> wire.Frame:
        frame = honest(now)
        frame[2] = [[frame[2][0][0], 0]]  # everything up to the newest packet
        return frame

    h.client._ack_frame = optimistic  # type: ignore[method-assign]
    h.client.fetch_blocks(list(blocks))
    [server_conn] = h.listener.connections.values()
    h.run(lambda: server_conn.state is State.CLOSED, limit=30)
    assert server_conn.state is State.CLOSED
    [ended] = [e for e in h.server_events if isinstance(e, ev.ConnectionTerminated)]
    assert "never sent" in str(ended.error), ended.error
    assert len(h.blocks_received()) < len(blocks)


def _other_version(data: bytes, version: int) -> bytes:
    return bytes([(version << 4) | (data[0] & 0x0F)]) + data[1:]


def test_a_client_of_another_version_is_told_ours() -> None:
    """An INIT of another version gets a 5-byte notice (our version, its cid) instead of
    silence; a client getting one addressed to it ends with an error naming both
    versions; one addressed to another cid, or of our own version, is dropped."""
    server = crypto.Identity.generate()
    listener = Listener(server)
    client = Connection.client(crypto.Identity.generate(), server.public, CLIENT_ADDR)
    [init] = client.datagrams_to_send(0.0)
    future = _other_version(init, limits.PROTOCOL_VERSION + 1)
    listener.receive_datagram(future, CLIENT_ADDR, 0.0)
    [(notice, to)] = listener.datagrams_to_send(0.0)
    assert to == CLIENT_ADDR and len(notice) == wire.VERSION_NOTICE_SIZE
    assert notice[0] == (limits.PROTOCOL_VERSION << 4) | wire.VERSION_NOTICE
    assert notice[1:] == init[1:5]  # the INIT's sender cid
    assert not listener.connections

    # The client ignores a notice for another cid and one of its own version...
    wrong_cid = _other_version(notice[:1] + bytes(4), 9)
    client.receive_datagram(wrong_cid, SERVER_ADDR, 0.1)
    client.receive_datagram(notice, SERVER_ADDR, 0.1)  # our own version: not a notice
    assert client.state is State.HANDSHAKE and client.next_event() is None
    # ... and ends at once on one from a server of version 9.
    client.receive_datagram(_other_version(notice, 9), SERVER_ADDR, 0.2)
    [ended] = [e for e in iter(client.next_event, None) if isinstance(e, ev.ConnectionTerminated)]
    assert isinstance(ended.error, PeerError)
    assert f"speaks peer protocol version 9, this cofd version {limits.PROTOCOL_VERSION}" in str(
        ended.error
    )


def test_an_established_session_ignores_version_notices() -> None:
    h = Harness(server=BlockServer(make_blocks(1, seed=3)))
    h.run(lambda: h.client.state is State.ESTABLISHED)
    notice = bytes([(9 << 4) | wire.VERSION_NOTICE]) + h.client.local_cid.to_bytes(4, "big")
    h.client.receive_datagram(notice, SERVER_ADDR, h.now)
    assert h.client.state is State.ESTABLISHED
