"""The sync engine: what daemons exchange over the peer protocol, and how.

Terms:
    share: a repository this daemon serves under a NAME (``cof share NAME``).
    grant: a peer's public key with ``read`` or ``write`` on one share.
    remote: a repository elsewhere (``cof://[KEY@]HOST[:PORT]/NAME``) plus the key of
        the daemon serving it, stored in ``.cof/remotes.toml``.
    wants / haves: commits the receiver asks for / already has (a few, exponentially
        spaced along first parents).
    missing ids: every block reachable from the wants and not from the haves, found by
        a diff walk (``walk``); the receiver drops those it already stores.
    closure check: the same walk run by the receiver over what it stored, before any
        ref moves (every structural object re-hashed and decoded, every leaf present).

Modules: ``walk`` (haves, missing ids, closure), ``transfer`` (serving helpers and the
blocking ``pull``), ``client`` (sessions used by clone/fetch/pull/push), ``server``
(the daemon side: access checks, serving, receiving pushes), ``registry`` (identity,
shares and grants, remotes).
"""
