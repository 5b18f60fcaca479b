"""Per-connection settings and small helpers shared by client and server."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.peer import crypto, limits


class LocalProtocolError(RuntimeError):
    """The caller misused the API (a bug in cof, never the peer's fault)."""


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """Per-connection settings; the first three come from the ``[network]`` config."""

    packet_size: int = limits.PACKET_SIZE
    timeout_ms: int = 5000
    max_retries: int = 3
    idle_timeout: float = limits.IDLE_TIMEOUT
    initial_rtt: float = limits.INITIAL_RTT
    max_blocks_in_flight: int = limits.DEFAULT_BLOCKS_IN_FLIGHT

    def __post_init__(self) -> None:
        if not limits.MIN_PACKET_SIZE <= self.packet_size <= limits.MAX_PACKET_SIZE:
            raise LocalProtocolError(f"packet_size {self.packet_size} out of range")
        if self.timeout_ms <= 0 or self.max_retries < 0:
            raise LocalProtocolError("timeout_ms must be > 0 and max_retries >= 0")
        if not 0 < self.max_blocks_in_flight <= limits.MAX_BLOCKS_IN_FLIGHT:
            raise LocalProtocolError("max_blocks_in_flight out of range")

    @property
    def timeout(self) -> float:
        return self.timeout_ms / 1000

    @property
    def budget(self) -> float:
        """Seconds without progress after which a request or the connection fails."""
        return self.timeout * (self.max_retries + 1)

    @property
    def handshake_budget(self) -> float:
        """Seconds the client keeps retrying its handshake before giving up.

        One ``timeout`` (at least HANDSHAKE_MIN_BUDGET, at most :attr:`budget`): a
        live server answers an INIT in one round trip, and the INIT is retransmitted
        with backoff within that time (11 tries in the default 5 s), so more silence
        means a wrong key or no server at that address; the user should not wait
        the whole request budget (20 s by default) to hear it.
        """
        return min(self.budget, max(self.timeout, limits.HANDSHAKE_MIN_BUDGET))


def addr_name(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = str(addr[0])
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr)


def random_cid(rng: crypto.Rng) -> int:
    return int.from_bytes(rng(4), "big") or 1
