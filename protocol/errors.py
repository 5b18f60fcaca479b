"""One error root for cof, with a stable wire code and exit status per class.

The daemon raises these; the RPC layer sends ``{code, message}``; the CLI maps the
code back with :func:`error_from_wire`, prints one line and exits with the class's
``exit_code``. Anything not derived from :class:`CofError` is a bug and is reported
as ``internal``.
"""

from __future__ import annotations


class CofError(Exception):
    """Expected failure with a one-line message for the user."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(CofError):
    """The command was called wrongly (bad flag combination, bad argument)."""

    code = "usage"
    exit_code = 2


class NotARepositoryError(CofError):
    code = "not_a_repository"
    exit_code = 3


class RevisionError(CofError):
    """Unknown or ambiguous revision."""

    code = "revision"
    exit_code = 4


class PathError(CofError):
    """A path is outside the repository, missing or unreadable."""

    code = "path"
    exit_code = 5


class ConfigError(CofError):
    """Invalid configuration: message is ``file: key: what was expected``."""

    code = "config"
    exit_code = 6


class NothingToCommitError(CofError):
    code = "nothing_to_commit"
    exit_code = 1


class ConflictError(CofError):
    """The operation would overwrite local changes or left conflicts behind."""

    code = "conflict"
    exit_code = 7


class ConcurrentModificationError(CofError):
    """A file changed while it was being read; nothing was recorded for it."""

    code = "concurrent_modification"
    exit_code = 8


class IntegrityError(CofError):
    """Stored data does not hash to its id. Always loud, never returned as data."""

    code = "integrity"
    exit_code = 10


class StorageFullError(CofError):
    """The disk filled up (ENOSPC); the store was rolled back."""

    code = "storage_full"
    exit_code = 11


class RepositoryLockedError(CofError):
    """Another daemon owns the repository."""

    code = "locked"
    exit_code = 12


class DaemonUnavailableError(CofError):
    code = "daemon_unavailable"
    exit_code = 13


class ProtocolError(CofError):
    """A malformed frame or message (from the other side of a connection)."""

    code = "protocol"
    exit_code = 14


class PeerError(CofError):
    """A peer daemon failed us: it closed the session, lacks data or sent corrupt data."""

    code = "peer"
    exit_code = 15


class PeerTimeoutError(PeerError):
    """A peer made no progress within ``network.timeout_ms`` x (``max_retries`` + 1)."""

    code = "peer_timeout"
    exit_code = 15


class AccessDeniedError(PeerError):
    """The peer has no grant (read or write) for the repository it asked for."""

    code = "access_denied"
    exit_code = 16


class CancelledError(CofError):
    """The client went away (Ctrl-C) and the operation stopped at a safe point."""

    code = "cancelled"
    exit_code = 130  # as a shell reports a command ended by SIGINT


class InternalError(CofError):
    """A bug in cof: the daemon log has the traceback."""

    code = "internal"
    exit_code = 70


_BY_CODE: dict[str, type[CofError]] = {
    cls.code: cls
    for cls in (
        CofError,
        UsageError,
        NotARepositoryError,
        RevisionError,
        PathError,
        ConfigError,
        NothingToCommitError,
        ConflictError,
        ConcurrentModificationError,
        IntegrityError,
        StorageFullError,
        RepositoryLockedError,
        DaemonUnavailableError,
        ProtocolError,
        PeerError,
        PeerTimeoutError,
        AccessDeniedError,
        CancelledError,
        InternalError,
    )
}


def error_to_wire(error: CofError) -> dict[str, str]:
    return {"code": error.code, "message": error.message}


def error_from_wire(code: object, message: object) -> CofError:
    """Rebuild the exception a peer described; unknown codes become ``CofError``."""
    cls = _BY_CODE.get(code, CofError) if isinstance(code, str) else CofError
    return cls(str(message))
