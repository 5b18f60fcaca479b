"""Starting and stopping the peer (UDP) service with the daemon.

The listen address comes from ``[peer] listen`` in the user config
(``COF_HOME/config.toml``; loopback by default, so the LAN sees nothing unless the
user asks). The actual bound address is written to ``COF_HOME/peer_listen`` for
``cof peer info``. A failure to bind is logged and the daemon runs without serving
peers: local commands must not depend on a free UDP port.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path

from cofd.config import load_config
from cofd.daemon.dispatch import Dispatcher
from cofd.net.endpoint import make_udp_socket, parse_listen
from cofd.ops.peer_ops import LISTEN_FILE
from cofd.sync.client import peer_config
from cofd.sync.registry import DEFAULT_PORT, load_identity
from cofd.sync.server import SyncService
from protocol.errors import CofError
from protocol.peer.listener import Listener

log = logging.getLogger("cofd.peers")


class PeerService:
    """The running sync service and what to undo at shutdown."""

    def __init__(self, home: Path, service: SyncService) -> None:
        self.home = home
        self.service = service

    async def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.home / LISTEN_FILE).unlink()
        await self.service.stop()


async def start_peer_service(
    home: Path, env: Mapping[str, str], dispatcher: Dispatcher
) -> PeerService | None:
    with contextlib.suppress(FileNotFoundError):
        (home / LISTEN_FILE).unlink()
    try:
        config = await dispatcher.run_blocking(load_config, None, home / "config.toml", env)
        if not config.peer.listen:
            log.info("peer service disabled ([peer] listen is empty)")
            return None
        host, port = parse_listen(config.peer.listen, DEFAULT_PORT)
        identity = await dispatcher.run_blocking(load_identity, home)
        sock = make_udp_socket(host, port)
    except (CofError, ValueError, OSError) as exc:
        log.warning("not serving peers: %s", exc)
        return None
    listener = Listener(identity, config=peer_config(config.network))
    service = SyncService(
        home,
        dispatcher.repos,
        dispatcher.run_blocking,
        max_fetches=config.peer.max_fetches,
        page_blocks=config.peer.listing_page_blocks,
    )
    await service.start(listener, sock)
    assert service.endpoint is not None
    bound_host, bound_port = service.endpoint.address
    shown = f"[{bound_host}]:{bound_port}" if ":" in bound_host else f"{bound_host}:{bound_port}"
    (home / LISTEN_FILE).write_text(shown + "\n")
    log.info("serving peers on udp %s (key %s)", shown, identity.public.hex())
    return PeerService(home, service)
