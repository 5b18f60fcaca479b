"""CPU cost of the peer protocol alone, per 4 KiB block, on each side.

    uv run python -m tests.bench.bench_protocol            # 20,000 blocks
    uv run python -m tests.bench.bench_protocol --blocks 5000

A client ``Connection`` fetches blocks from a server ``Listener`` in one process,
datagrams handed straight across (the endpoints of ``tests/protocol/simnet.py``, no
sockets, no store): what is measured is the sans-I/O code — sealing, opening,
framing, reassembly, BLAKE3 verification, loss recovery and congestion control.
Process CPU time is charged to the side whose calls it was spent in.
"""

from __future__ import annotations

import argparse
import time

from cofd.net.endpoint import gso_runs
from protocol.peer import events as ev
from tests.protocol.simnet import CLIENT_ADDR, BlockServer, Harness, make_blocks

STEP = 0.0002  # simulated seconds between exchanges


def measure(count: int) -> tuple[float, float]:
    """(client, server) CPU seconds per block for fetching ``count`` blocks."""
    blocks = make_blocks(count, seed=1)
    h = Harness(server=BlockServer(blocks))
    client, listener, server = h.client, h.listener, h.server
    now, received = 0.0, 0
    spent = {"client": 0.0, "server": 0.0}

    def exchange() -> None:
        nonlocal now, received
        now += STEP
        begun = time.process_time()
        for data in client.datagrams_to_send(now):
            listener.receive_datagram(data, CLIENT_ADDR, now)
        split = time.process_time()
        while (item := listener.next_event()) is not None:
            server.handle(*item)
        out = listener.datagrams_to_send(now)
        timer = listener.get_timer()
        if timer is not None and timer <= now:
            listener.handle_timer(now)
        middle = time.process_time()
        # As the kernel hands them over: runs of equal-sized datagrams coalesced (GRO).
        datagrams = [data for data, _ in out]
        for i, j in gso_runs(datagrams):
            run = b"".join(datagrams[i:j])
            client.receive_datagrams(memoryview(run), len(run), len(datagrams[i]), now)
        while (event := client.next_event()) is not None:
            if isinstance(event, ev.BlocksReceived):
                received += len(event.blocks)
        timer = client.get_timer()
        if timer is not None and timer <= now:
            client.handle_timer(now)
        done = time.process_time()
        spent["client"] += (split - begun) + (done - middle)
        spent["server"] += middle - split

    while not listener.connections or client.state.value != "established":
        exchange()
    spent["client"] = spent["server"] = 0.0
    client.fetch_blocks(list(blocks))
    while received < count:
        exchange()
    return spent["client"] / count, spent["server"] / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [measure(args.blocks) for _ in range(args.runs)]
    client = min(r[0] for r in runs) * 1e6
    server = min(r[1] for r in runs) * 1e6
    print(f"{args.blocks} blocks, best of {args.runs}: receiving side {client:.1f} µs/block, "
          f"sending side {server:.1f} µs/block")  # fmt: skip


if __name__ == "__main__":
    main()
