"""Named limits of the peer protocol, each with the reason it has the value it has.

Every limit is checked *before* the memory it guards is allocated. Values that the
user may tune (`network.packet_size`, `timeout_ms`, `max_retries`) arrive through
:class:`protocol.peer.connection.PeerConfig`; the defaults here match `cofd.config`.
"""

from __future__ import annotations

PROTOCOL_VERSION = 4  # high nibble of every packet's first byte; see docs/protocol.md

# --- datagrams -----------------------------------------------------------------
PACKET_SIZE = 1400  # default network.packet_size: below the 1500-byte Ethernet MTU
MIN_PACKET_SIZE = 576  # smallest network.packet_size accepted (IPv4 minimum reassembly)
MAX_PACKET_SIZE = 1452  # largest network.packet_size: 1500 - IPv6 (40) - UDP (8)
HEADER_SIZE = 9  # data packet header: 1 type byte, 4 connection id, 4 packet number
AEAD_TAG_SIZE = 16  # Poly1305 tag appended to every sealed payload
BLOCK_FRAME_OVERHEAD = 6  # binary: type 1, slot 2, fragment index 1, data length 2
# Per-datagram overhead of a block fragment; 31 lets 4096 bytes travel as 3 x 1397.
BLOCK_DATAGRAM_OVERHEAD = HEADER_SIZE + AEAD_TAG_SIZE + BLOCK_FRAME_OVERHEAD
MAX_BLOCK_BYTES = 64 * 1024  # largest core.block_size; also caps a reassembled block
MIN_BLOCK_BYTES = 1024  # smallest core.block_size (cofd.config checks against these)
DEFAULT_BLOCK_SIZE = 4096  # core.block_size unless a repository was made with another
SLOT_SPACE = 1 << 16  # block slots are uint16 so the fragment header stays at 9 bytes
MAX_FRAMES_PER_PACKET = 64  # a 1400-byte packet has no use for more frames

# --- messages ------------------------------------------------------------------
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # a reassembled control message (Lacking of ~250k ids)
MAX_PARTIAL_MESSAGES = 32  # incoming messages being reassembled at once, per connection
MAX_REFS = 100_000  # refs in one Refs/PushOffer: more than any real repository has
MAX_REF_NAME = 255  # bytes in a ref name, as in git
MAX_IDS = 200_000  # ids in one Want/Have/Lacking page; 6.4 MiB, under MAX_MESSAGE_BYTES
MAX_HAVES = 256  # exponentially spaced haves: 2^256 commits of history is plenty
MAX_BLOCKS_PER_REQUEST = 32  # ids in one GetBlocks: 32 x 35 bytes fits one datagram
MAX_REPO_NAME = 128  # bytes in a shared repository name
MAX_ERROR_TEXT = 512  # bytes of a peer's error message we keep

# --- flow and sessions ---------------------------------------------------------
MAX_REQUESTS_IN_FLIGHT = 64  # outstanding message requests per connection
MAX_BLOCKS_IN_FLIGHT = 2048  # requested blocks not yet received: 8 MiB of 4 KiB blocks
# Default in flight: 4 MiB of 4 KiB blocks covers 100 MB/s x 40 ms and, as 3 datagrams
# each, still fits an 8 MiB socket receive buffer (a full window never overflows it).
DEFAULT_BLOCKS_IN_FLIGHT = 1024
MAX_SERVED_BLOCKS = 4096  # blocks queued for sending per connection (server side)
MAX_CWND_BYTES = 16 * 1024 * 1024  # bytes in flight per connection (LAN BDP is far less)
MAX_ACK_RANGES = 32  # ranges in one ACK frame; older gaps are retransmitted anyway
REPLAY_WINDOW = 1024  # packets behind the highest seen that may still arrive
MAX_PACKET_NUMBER = (1 << 32) - 1  # 4-byte packet numbers; the session ends before reuse
MAX_SESSIONS = 256  # connections per listener
MAX_SESSIONS_PER_PEER = 8  # connections per authenticated public key
MAX_HALF_OPEN = 64  # handshakes answered but not yet confirmed by the client

# --- time (seconds) ------------------------------------------------------------
IDLE_TIMEOUT = 30.0  # a connection with no traffic at all for this long is closed
HANDSHAKE_TIMEOUT = 10.0  # a half-open server connection is forgotten after this
COOKIE_PERIOD = 30.0  # cookie secret rotation; a cookie is valid for 1-2 periods
INITIAL_RTT = 0.1  # RFC 9002 recommends 333 ms for the Internet; LAN peers answer faster
HANDSHAKE_MIN_BUDGET = 2.0  # seconds: the least a handshake is retried for (PeerConfig)
HANDSHAKE_MAX_INTERVAL = 0.5  # seconds: the most between two tries of a handshake
MAX_ACK_DELAY = 0.005  # we ACK after 2 packets or within this delay
TIMER_GRANULARITY = 0.001  # RFC 9002 kGranularity
AMPLIFICATION_FACTOR = 3  # before a cookie is validated, reply <= 3x what was received
