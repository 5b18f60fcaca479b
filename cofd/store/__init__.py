"""The block store: content-addressed blocks in self-describing pack files.

Terms:
    block: at most ``core.block_size`` bytes, named by the BLAKE3-256 of its raw bytes.
    record: one entry in a pack: a single block, or a frame of consecutive blocks
        compressed together (cold tier).
    pack: an append-only file of records, ``objects/<tier>/NNNNNNNN.pack``; sealed
        (immutable, with a footer) once it reaches its target size.
    index: the SQLite database mapping block id -> where its record lives
        (``block_map``) and the generation of the commit that introduced it
        (``commit_age``).
    manifest: a Merkle tree of blocks describing content larger than one block.
"""
