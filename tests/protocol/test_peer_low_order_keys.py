"""Low-order X25519 public keys (all zeros and the other small-subgroup points).

``cryptography`` accepts them as keys and fails only at the exchange, with a bare
``ValueError``: a client given one must fail with a one-line :class:`HandshakeError`,
and a server sent one (as ephemeral or as static key) must drop the INIT silently.
"""

from __future__ import annotations

import pytest

from protocol.errors import InternalError, ProtocolError
from protocol.peer import crypto, wire
from protocol.peer.connection import Connection, State
from tests.protocol.simnet import SERVER_ADDR, Harness, seeded_rng

LOW_ORDER = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ec" + "ff" * 30 + "7f"),  # p - 1
    bytes.fromhex("ed" + "ff" * 30 + "7f"),  # p (non-canonical 0)
]


@pytest.mark.parametrize("key", LOW_ORDER, ids=lambda k: k.hex()[:8])
def test_low_order_keys_are_not_valid_public_keys(key: bytes) -> None:
    assert not crypto.is_valid_public_key(key)
    with pytest.raises(crypto.HandshakeError, match="is not a valid X25519 public key"):
        crypto.Identity.generate(seeded_rng(1)).dh(key)


def test_real_keys_are_valid_and_wrong_lengths_are_not() -> None:
    a, b = crypto.Identity.generate(seeded_rng(2)), crypto.Identity.generate(seeded_rng(3))
    assert crypto.is_valid_public_key(a.public)
    assert a.dh(b.public) == b.dh(a.public)
    for raw in (b"", bytes(31), a.public + b"\x00"):
        assert not crypto.is_valid_public_key(raw)
        with pytest.raises(crypto.HandshakeError):
            a.dh(raw)


def test_a_client_given_a_low_order_server_key_fails_with_one_clean_line() -> None:
    identity = crypto.Identity.generate(seeded_rng(4))
    with pytest.raises(crypto.HandshakeError) as raised:
        Connection.client(identity, bytes(32), SERVER_ADDR, rng=seeded_rng(5))
    error = raised.value
    assert isinstance(error, ProtocolError) and not isinstance(error, InternalError)
    assert error.exit_code != InternalError.exit_code
    assert str(error) == f"peer key {'00' * 32} is not a valid X25519 public key"
    assert "\n" not in str(error)


class _ZeroStatic:
    """A hostile initiator claiming the all-zero static key: it cannot compute
    DH(C, S), so it seals its proof with what a server that skipped the check
    would compute (all zeros)."""

    public = bytes(32)

    def dh(self, public: bytes) -> bytes:
        return bytes(32)


def _cookie(h: Harness, init: bytes, addr: object) -> bytes:
    """Send an INIT without a cookie; the cookie the listener answers with."""
    h.listener.receive_datagram(init, addr, h.now)
    replies = h.listener.datagrams_to_send(h.now)
    return wire.CookiePacket.from_wire(replies[0][0]).cookie


def test_a_server_drops_inits_with_low_order_keys_and_keeps_serving() -> None:
    h = Harness(seed=40)
    addr = ("10.0.0.9", 9)
    # A zero static key inside an INIT that otherwise decrypts.
    hostile = crypto.InitiatorHandshake(
        _ZeroStatic(),  # type: ignore[arg-type]
        h.server_identity.public,
        91,
        seeded_rng(41),
    )
    cookie = _cookie(h, hostile.init_packet(), addr)
    h.listener.receive_datagram(hostile.init_packet(cookie), addr, h.now)
    assert not h.listener.connections
    assert h.listener.stats["dropped_unauthenticated"] == 1
    # Every low-order point as the ephemeral key.
    init = crypto.InitiatorHandshake(
        h.client_identity, h.server_identity.public, 92, seeded_rng(42)
    )
    sealed = (init.init.sealed_static, init.init.sealed_proof)
    cookie = _cookie(h, init.init_packet(), addr)
    for n, ephemeral in enumerate(LOW_ORDER):
        forged = wire.InitPacket(92, ephemeral, *sealed, cookie)
        h.listener.receive_datagram(forged.to_wire(), addr, h.now)
        assert h.listener.stats["dropped_unauthenticated"] == 2 + n
    assert not h.listener.connections
    assert not h.listener.datagrams_to_send(h.now)  # never answered
    # The honest client still gets through.
    h.run(lambda: h.client.state is State.ESTABLISHED, limit=5)
    assert h.client.state is State.ESTABLISHED


def test_a_client_drops_a_response_with_a_low_order_ephemeral() -> None:
    h = Harness(seed=50)
    h.client.datagrams_to_send(h.now)  # the INIT goes out
    for ephemeral in LOW_ORDER:
        response = wire.ResponsePacket(h.client.local_cid, 7, ephemeral, bytes(16))
        h.client.receive_datagram(response.to_wire(), SERVER_ADDR, h.now)
    assert h.client.stats["dropped_unauthenticated"] == len(LOW_ORDER)
    assert h.client.state is State.HANDSHAKE
