"""Handshake, packet protection, cookies and the replay window.

All primitives come from ``cryptography``: X25519, ChaCha20-Poly1305, HKDF-SHA256 and
keyed BLAKE2s. The handshake follows the Noise IK pattern (the initiator knows the
responder's static key); see ``docs/protocol.md`` for the exact transcript.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import constant_time, hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from protocol.peer import limits, wire

Rng = Callable[[int], bytes]
"""Source of random bytes: ``os.urandom`` in production, seeded in tests."""

PROLOGUE = b"cof peer protocol v4"
_NONCE0 = bytes(12)


class HandshakeError(wire.WireError):
    """A handshake packet that does not authenticate: dropped silently.

    Also what a Diffie-Hellman exchange with an unusable public key raises (see
    :meth:`Identity.dh`): on the server such an INIT is dropped like any other that
    does not authenticate; a client given such a server key fails to start, with a
    one-line message naming the key.
    """


def _hash(*parts: bytes) -> bytes:
    digest = hashes.Hash(hashes.BLAKE2s(32))
    for part in parts:
        digest.update(part)
    return digest.finalize()


def _mix_key(chaining_key: bytes, dh: bytes) -> tuple[bytes, bytes]:
    out = HKDF(hashes.SHA256(), 64, salt=chaining_key, info=PROLOGUE).derive(dh)
    return out[:32], out[32:]


def _open(key: bytes, sealed: bytes, ad: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(_NONCE0, sealed, ad)
    except InvalidTag as exc:
        raise HandshakeError("handshake does not authenticate") from exc


class Identity:
    """A static X25519 key pair: the daemon's identity."""

    def __init__(self, private: X25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls, rng: Rng = os.urandom) -> Identity:
        return cls(X25519PrivateKey.from_private_bytes(rng(32)))

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> Identity:
        return cls(X25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        """Raw 32 private bytes, for the daemon to store (mode 0600) in COF_HOME."""
        return self._private.private_bytes_raw()

    def dh(self, public: bytes) -> bytes:
        """The X25519 shared secret with ``public``; :class:`HandshakeError` when
        ``public`` is not 32 bytes or is a low-order point (whose shared secret is all
        zeros whatever the private key: ``cryptography`` accepts such a key and only
        the exchange refuses it)."""
        try:
            return self._private.exchange(X25519PublicKey.from_public_bytes(public))
        except ValueError as exc:
            message = f"{_describe_key(public)} is not a valid X25519 public key"
            raise HandshakeError(message) from exc


def _describe_key(public: bytes) -> str:
    """``peer key HEX`` for messages (long or odd inputs shortened)."""
    text = public.hex()
    return f"peer key {text if len(text) <= 64 else text[:64] + '...'}"


def is_valid_public_key(public: bytes) -> bool:
    """Whether ``public`` can be used in a handshake: 32 bytes and not a low-order
    point. Checked by a trial exchange with a throwaway key, the only test
    ``cryptography`` offers (``from_public_bytes`` accepts low-order points)."""
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Directional AEAD keys once the handshake completes."""

    send: bytes
    recv: bytes


class PacketProtection:
    """Seals and opens DATA packets: the packet number is the nonce, the header the AD."""

    def __init__(self, keys: SessionKeys) -> None:
        self._send = ChaCha20Poly1305(keys.send)
        self._recv = ChaCha20Poly1305(keys.recv)

    def seal(self, header: bytes, packet_number: int, payload: bytes) -> bytes:
        return header + self._send.encrypt(packet_number.to_bytes(12, "big"), payload, header)

    def open(self, datagram: bytes, packet_number: int) -> bytes | None:
        """Return the payload, or None when the datagram does not authenticate."""
        return self.open_at(memoryview(datagram), 0, len(datagram), packet_number)

    def open_at(self, buffer: memoryview, start: int, end: int, packet_number: int) -> bytes | None:
        """:meth:`open` for the datagram ``buffer[start:end]``, read where it lies (a
        receive buffer holding a run of datagrams: no copy of each one first)."""
        header_end = start + limits.HEADER_SIZE
        nonce = packet_number.to_bytes(12, "big")
        try:
            return self._recv.decrypt(nonce, buffer[header_end:end], buffer[start:header_end])
        except InvalidTag:
            return None


class InitiatorHandshake:
    """Client side of the IK handshake; knows the server's static public key.

    Raises :class:`HandshakeError` at once when that key is unusable (see
    :meth:`Identity.dh`); a RESPONSE whose ephemeral key is unusable fails
    :meth:`finish` the same way, and is dropped like one that does not authenticate.
    """

    def __init__(self, identity: Identity, server_key: bytes, sender_cid: int, rng: Rng) -> None:
        self.server_key = server_key
        self._ephemeral = Identity.generate(rng)
        chaining = _hash(PROLOGUE)
        packet = wire.InitPacket(sender_cid, self._ephemeral.public, b"", b"")
        h = _hash(chaining, server_key, packet.prefix(), self._ephemeral.public)
        chaining, key = _mix_key(chaining, self._ephemeral.dh(server_key))
        sealed_static = ChaCha20Poly1305(key).encrypt(_NONCE0, identity.public, h)
        h = _hash(h, sealed_static)
        chaining, key = _mix_key(chaining, identity.dh(server_key))
        proof = ChaCha20Poly1305(key).encrypt(_NONCE0, b"", h)
        self._h = _hash(h, proof)
        self._chaining = chaining
        self._identity = identity
        self.init = wire.InitPacket(sender_cid, self._ephemeral.public, sealed_static, proof)

    def init_packet(self, cookie: bytes = b"") -> bytes:
        return wire.InitPacket(
            self.init.sender_cid,
            self.init.ephemeral,
            self.init.sealed_static,
            self.init.sealed_proof,
            cookie,
        ).to_wire()

    def finish(self, response: wire.ResponsePacket) -> SessionKeys:
        """Check the server's RESPONSE and derive the session keys."""
        h = _hash(self._h, response.prefix(), response.ephemeral)
        chaining, _ = _mix_key(self._chaining, self._ephemeral.dh(response.ephemeral))
        chaining, key = _mix_key(chaining, self._identity.dh(response.ephemeral))
        _open(key, response.sealed_proof, h)
        return _split(chaining, initiator=True)


@dataclass(frozen=True, slots=True)
class AcceptedInit:
    """What the responder learnt from a valid INIT and what it answers."""

    peer_key: bytes
    keys: SessionKeys
    response: bytes


def respond(identity: Identity, packet: wire.InitPacket, server_cid: int, rng: Rng) -> AcceptedInit:
    """Server side: authenticate an INIT and build the RESPONSE; raise HandshakeError."""
    chaining = _hash(PROLOGUE)
    h = _hash(chaining, identity.public, packet.prefix(), packet.ephemeral)
    chaining, key = _mix_key(chaining, identity.dh(packet.ephemeral))
    peer_key = _open(key, packet.sealed_static, h)
    h = _hash(h, packet.sealed_static)
    chaining, key = _mix_key(chaining, identity.dh(peer_key))
    _open(key, packet.sealed_proof, h)
    h = _hash(h, packet.sealed_proof)
    ephemeral = Identity.generate(rng)
    reply = wire.ResponsePacket(packet.sender_cid, server_cid, ephemeral.public, b"")
    h = _hash(h, reply.prefix(), ephemeral.public)
    chaining, _ = _mix_key(chaining, ephemeral.dh(packet.ephemeral))
    chaining, key = _mix_key(chaining, ephemeral.dh(peer_key))
    proof = ChaCha20Poly1305(key).encrypt(_NONCE0, b"", h)
    response = wire.ResponsePacket(packet.sender_cid, server_cid, ephemeral.public, proof)
    return AcceptedInit(peer_key, _split(chaining, initiator=False), response.to_wire())


def _split(chaining: bytes, *, initiator: bool) -> SessionKeys:
    out = HKDF(hashes.SHA256(), 64, salt=chaining, info=PROLOGUE + b" split").derive(b"")
    first, second = out[:32], out[32:]
    return SessionKeys(first, second) if initiator else SessionKeys(second, first)


class CookieJar:
    """Stateless address-validation cookies keyed by a secret that rotates per period."""

    def __init__(self, rng: Rng = os.urandom) -> None:
        self._secret = rng(32)

    def make(self, addr: object, sender_cid: int, now: float) -> bytes:
        return self._mac(addr, sender_cid, int(now // limits.COOKIE_PERIOD))

    def check(self, cookie: bytes, addr: object, sender_cid: int, now: float) -> bool:
        bucket = int(now // limits.COOKIE_PERIOD)
        return any(hmac_equal(cookie, self._mac(addr, sender_cid, b)) for b in (bucket, bucket - 1))

    def _mac(self, addr: object, sender_cid: int, bucket: int) -> bytes:
        key = _hash(self._secret, bucket.to_bytes(8, "big", signed=True))
        mac = hmac.HMAC(key, hashes.BLAKE2s(32))
        mac.update(repr(addr).encode() + sender_cid.to_bytes(4, "big"))
        return mac.finalize()[: wire.COOKIE_SIZE]


def hmac_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison."""
    return constant_time.bytes_eq(a, b)


class ReplayWindow:
    """Sliding bitmap of the last ``REPLAY_WINDOW`` packet numbers seen."""

    def __init__(self, size: int = limits.REPLAY_WINDOW) -> None:
        self._size = size
        self._mask = (1 << size) - 1
        self.largest = -1
        self._bits = 0  # bit i set: packet (largest - i) seen

    def is_fresh(self, pn: int) -> bool:
        if pn > self.largest:
            return True
        offset = self.largest - pn
        return offset < self._size and not (self._bits >> offset) & 1

    def mark(self, pn: int) -> None:
        """Record an authenticated packet; call only after ``is_fresh`` and opening."""
        if pn > self.largest:
            shift = pn - self.largest
            self._bits = ((self._bits << shift) | 1) & self._mask
            self.largest = pn
        else:
            self._bits |= 1 << (self.largest - pn)
