"""The cof daemon: owns repositories and serves the local RPC socket.

Terms:
    home: ``COF_HOME``, the daemon's state directory (socket, pid file, log).
    instance lock: an exclusive flock on the pid file; one daemon per home.
    connection: one client socket; its requests are handled one after another.
    request: one RPC call (``protocol.rpc.Request``) naming an operation.
    operation: a function in ``cofd.ops.api.OPS``, run in the worker pool.
    built-in: ``ping``, ``daemon_status`` and ``shutdown``, answered by the daemon
        itself without touching a repository.
    worker pool: the one bounded ``ThreadPoolExecutor`` every operation runs in, so
        the event loop never blocks.
    repository cache: repositories opened once (taking their ``.cof/locks`` flock)
        and kept open until the daemon stops.
    repository lock: an async readers–writer lock per repository root; operations
        registered with ``writes=True`` run alone, readers run together.
    in-flight: requests whose operation has started and not yet answered.

Modules: ``lifecycle`` (start-up, instance lock, signals, shutdown), ``server``
(socket and connections), ``dispatch`` (requests → operations), ``repos``
(repository cache), ``rwlock`` (the readers–writer lock).
"""
