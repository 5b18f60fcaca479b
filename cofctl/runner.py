"""``call()``: what a command uses to run one operation in the daemon."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from cofctl.client import Client
from cofctl.render import ProgressLine


def call(op: str, params: Mapping[str, Any] | None = None, progress: bool = True) -> Any:
    """Run operation ``op`` with ``params`` in the daemon (starting it if needed).

    The request carries this process's working directory and ``COF_*`` variables.
    With ``progress``, the operation's progress reports are drawn on stderr (see
    ``cofctl.render``).

    Returns:
        The operation's result.

    Raises:
        CofError: the failure the daemon reported; ``cofctl.cli`` prints it and exits
            with its exit code.
    """
    client = Client.from_environ()
    if not progress:
        return client.call(op, params)
    with ProgressLine(sys.stderr) as line:
        return client.call(op, params, progress=line.update)
