"""Wire formats shared by cofd and cofctl, free of I/O.

Terms:
    frame: one length-prefixed msgpack message on the local RPC socket.
    codec: the single place msgpack options and size limits are pinned.
    error code: a stable string naming a failure class; both sides map it to
        the same exception type and exit status (see ``protocol.errors``).
"""
