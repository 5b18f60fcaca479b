"""The client side of sync, run by operations in the worker pool.

A :class:`ClientSession` is one authenticated connection to a remote daemon for one
shared repository. ``fetch`` lists the remote refs and pulls what is missing;
``push`` offers ref updates and then serves what the remote pulls back over the same
connection (only the blocks it listed for the pushed commits).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cofd.config import NetworkConfig
from cofd.net.driver import Driver
from cofd.ops.repository import Repository
from cofd.store.ids import BlockId
from cofd.sync.registry import Remote, load_identity
from cofd.sync.serving import (
    LackingPages,
    check_ref_name,
    read_blocks,
    send_blocks,
    split_offered,
)
from cofd.sync.transfer import Progress, TransferStats, pull, wait_response
from protocol.errors import (
    AccessDeniedError,
    CancelledError,
    CofError,
    PeerError,
    PeerTimeoutError,
    ProtocolError,
)
from protocol.peer import events as ev
from protocol.peer import messages as m
from protocol.peer.config import PeerConfig
from protocol.peer.connection import State

SERVE_BATCH = 256  # blocks read per store call while serving a push
CANCEL_POLL = 0.25  # seconds a session may wait before looking at its cancel flag


def peer_config(network: NetworkConfig) -> PeerConfig:
    return PeerConfig(
        packet_size=network.packet_size,
        timeout_ms=network.timeout_ms,
        max_retries=network.max_retries,
    )


@dataclass(slots=True)
class _PushServing:
    repo: Repository
    wants: frozenset[bytes]
    lacking: LackingPages = field(default_factory=LackingPages)


class ClientSession:
    """One connection to ``remote``; use as a context manager (closes politely)."""

    def __init__(
        self, driver: Driver, remote: Remote, cancelled: threading.Event | None = None
    ) -> None:
        self.driver = driver
        self.remote = remote
        self.peer_name = driver.conn.peer_name
        self._serving: _PushServing | None = None
        self._cancelled = cancelled or threading.Event()

    @classmethod
    def open(
        cls,
        home: Path,
        remote: Remote,
        network: NetworkConfig,
        cancelled: threading.Event | None = None,
    ) -> ClientSession:
        """Connect and authenticate. ``cancelled``, once set, makes the session raise
        :class:`CancelledError` within ``CANCEL_POLL`` seconds, wherever it waits."""
        identity = load_identity(home)
        url = remote.url
        driver = Driver.connect(identity, remote.key, url.host, url.port, peer_config(network))
        session = cls(driver, remote, cancelled)
        try:
            session._handshake()
        except PeerTimeoutError as exc:
            driver.close()
            # A server drops an INIT it cannot authenticate without a word (by design:
            # it must not answer strangers), so silence is what a wrong key looks like.
            raise PeerTimeoutError(
                f"{exc.message}: is {remote.key.hex()[:16]}… the key 'cof peer key' shows "
                "on that machine, and is its cofd running and listening on that address?"
            ) from None
        except BaseException:
            driver.close()
            raise
        return session

    def __enter__(self) -> ClientSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.driver.close()

    # -- Channel ------------------------------------------------------------------------

    def call(self, fn: Any) -> Any:
        return fn(self.driver.conn)

    def next_event(self, timeout: float | None = None) -> ev.Event | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._cancelled.is_set():
                # What already arrived is handed on first (verified blocks are kept:
                # a re-run skips them); the socket is not read any more.
                if (event := self.driver.conn.next_event()) is not None:
                    return event
                raise CancelledError(f"cancelled: the transfer with {self.peer_name} stopped")
            wait = CANCEL_POLL
            if deadline is not None:
                wait = max(min(wait, deadline - time.monotonic()), 0.0)
            event = self.driver.next_event(wait)
            if event is not None or (deadline is not None and time.monotonic() >= deadline):
                return event

    # -- operations ---------------------------------------------------------------------

    def _handshake(self) -> None:
        while True:
            event = self.next_event()
            if isinstance(event, ev.HandshakeCompleted):
                return
            if isinstance(event, ev.ConnectionTerminated):
                raise event.error or PeerError(f"peer {self.peer_name} refused the connection")

    def list_refs(self) -> m.Refs:
        rid = self.driver.conn.send_request(m.ListRefs(self.remote.url.name))
        reply = wait_response(self, rid, self._other)
        if not isinstance(reply, m.Refs):
            raise ProtocolError(f"peer {self.peer_name} answered ListRefs oddly")
        return reply

    def fetch(
        self, repo: Repository, wants: list[bytes], progress: Progress | None
    ) -> TransferStats:
        return pull(self, repo, self.remote.url.name, wants, progress, self._other)

    def push(self, repo: Repository, updates: list[m.RefUpdate], force: bool) -> m.PushResult:
        """Offer ``updates``; serve what the remote pulls; return its verdict per ref."""
        self._serving = _PushServing(repo, frozenset(u.new for u in updates if u.new is not None))
        try:
            offer = m.PushOffer(
                self.remote.url.name, tuple(updates), force, repo.objects.block_size
            )
            rid = self.driver.conn.send_request(offer)
            reply = wait_response(self, rid, self._other)
        finally:
            self._serving = None
        if not isinstance(reply, m.PushResult):
            raise ProtocolError(f"peer {self.peer_name} answered PushOffer oddly")
        return reply

    # -- what the remote asks of us while we push ------------------------------------

    def _other(self, event: ev.Event) -> None:
        conn = self.driver.conn
        if conn.state is State.CLOSED:
            return
        if isinstance(event, ev.RequestReceived):
            conn.send_response(event.request_id, self._answer(event.message))
        elif isinstance(event, ev.BlocksRequested):
            self._serve_blocks(event.blocks)

    def _answer(self, message: m.Message) -> m.Message:
        serving = self._serving
        if not isinstance(message, m.Want) or serving is None:
            return m.ErrorReply(AccessDeniedError.code, "this peer serves nothing here")
        try:
            # Only the offered values are served ("not our ref" otherwise). One naming
            # no commit (a branch at a tree) is listed alone: the remote sees what it
            # is and refuses that ref, the others land.
            page = serving.lacking.page(serving.repo, message, serving.wants)
        except CofError as exc:
            return m.ErrorReply(exc.code, exc.message)
        return page

    def _serve_blocks(self, blocks: tuple[tuple[int, m.BlockId], ...]) -> None:
        conn = self.driver.conn
        serving = self._serving
        if serving is None:
            conn.blocks_missing([s for s, _ in blocks])
            return
        allowed, refused = split_offered(serving.lacking.offered, blocks)
        if refused:
            conn.blocks_missing(refused)
        for at in range(0, len(allowed), SERVE_BATCH):
            chunk = allowed[at : at + SERVE_BATCH]
            datas = read_blocks(serving.repo, [BlockId(b) for _, b in chunk])
            send_blocks(conn, [s for s, _ in chunk], datas)


def remote_branches(refs: m.Refs) -> dict[str, bytes]:
    """Valid ``refs/heads/*`` and ``refs/tags/*`` of a Refs reply (others ignored)."""
    return {name: value for name, value in refs.refs if check_ref_name(name) is None}
