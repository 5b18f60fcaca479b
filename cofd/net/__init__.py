"""Datagram I/O for the sans-I/O peer protocol (``protocol.peer``).

Terms:
    endpoint: the asyncio ``DatagramProtocol`` that feeds a ``Listener`` every datagram
        of the daemon's UDP socket, sends what it returns and arms its one timer.
    driver: the blocking twin for one client ``Connection``, used by operations that
        run in the worker pool (clone, fetch, push): it owns a connected UDP socket and
        waits in ``poll`` until a datagram arrives or the connection's timer is due.

Neither interprets the protocol: they move bytes, read the clock and hand events on.

Modules: ``endpoint`` (asyncio, server side), ``driver`` (blocking, client side).
"""
