"""cofd: the cof daemon and the repository engine it owns.

Layers, top to bottom (nothing imports a layer above it):
    daemon: asyncio server, RPC dispatch, thread pool, repository ownership.
    ops: one function per user-visible operation (add, commit, status, ...).
    objects: commits, trees, refs, reflog, the working-tree index.
    store: blocks, packs, the index database, manifests, the cache.
"""
