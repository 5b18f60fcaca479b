"""The sans-I/O peer protocol between cof daemons (specified in ``docs/protocol.md``).

Terms:
    datagram: one UDP payload, at most ``network.packet_size`` bytes.
    packet: a datagram of this protocol: INIT, COOKIE, RESPONSE or sealed DATA.
    frame: a msgpack array inside a DATA packet (PING, ACK, MSG, CLOSE), or one binary
        block fragment (BLOCK_PART/END) filling a DATA packet alone.
    message: a control message (``messages.py``), fragmented into MSG frames.
    slot: a uint16 naming one requested block while its fragments are in flight.
    cid: connection id, chosen by the side that receives packets carrying it.
    budget: ``timeout_ms`` x (``max_retries`` + 1) without progress before giving up.

Modules: ``wire`` (packet and frame layouts), ``crypto`` (handshake, AEAD, cookies,
replay window), ``recovery`` (RFC 9002 loss detection, congestion control, pacing),
``messages``, ``events``, ``transfer`` (reassembly, block fetcher), ``connection``
(the state machine), ``listener`` (server demultiplexing), ``limits``, ``config``.
"""
