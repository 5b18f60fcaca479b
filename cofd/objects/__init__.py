"""Objects: the version-control data model on top of the block store.

Terms:
    object: a commit or tree, encoded canonically with msgpack and stored as one
        block, or as a manifest when its encoding is larger than one block. Its id
        is the id of that block (or manifest root).
    content id: the id of a file's content: its single block when it fits in one,
        else the root of its manifest. The size (kept beside it in trees) tells which.
    ref: a name (``refs/heads/main``, ``HEAD``) pointing at a commit id, updated
        atomically and logged in the reflog.
    worktree state: the staging area plus the stat cache (``.cof/worktree``).
"""
