"""``init``: create a repository (or report that one exists).

The block size and hash of the new repository come from the request's effective
configuration (user config, then the client's ``COF_*`` variables) and are pinned in
its ``config.toml``; every other key is left to the layers (see ``cofd.config``).
"""

from __future__ import annotations

from typing import Any

from cofd.ops.api import OpContext, op
from cofd.ops.repository import create_layout
from protocol.errors import PathError


@op("init", writes=True, needs_repo=False)
def init(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    target = (ctx.cwd / (params.get("path") or ".")).resolve()
    if target.exists() and not target.is_dir():
        raise PathError(f"cannot initialise a repository at '{target}': not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
        created = create_layout(target, ctx.config())
    except PermissionError as exc:
        raise PathError(f"cannot create a repository at '{target}': {exc.strerror}") from exc
    return {"root": str(target), "created": created}
