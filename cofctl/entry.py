"""Console-script entry point for ``cof`` and ``cofctl``.

``cof status`` is typed constantly and its latency is mostly interpreter start-up,
so its plain forms (no paths, no ``--json``) are served here without importing
click; everything else goes to the full command line in ``cofctl.cli``.
"""

from __future__ import annotations

import sys

# The argument lists the fast path serves, mapped to (porcelain, short, branch).
_FAST_STATUS = {
    (): (False, False, False),
    ("--porcelain",): (True, False, False),
    ("-s",): (False, True, False),
    ("--short",): (False, True, False),
    ("-sb",): (False, True, True),
    ("-s", "-b"): (False, True, True),
    ("--porcelain", "-b"): (True, False, True),
}


def main(prog_name: str | None = None) -> None:
    argv = tuple(sys.argv[1:])
    if argv[:1] == ("status",) and argv[1:] in _FAST_STATUS:
        sys.exit(_fast_status(*_FAST_STATUS[argv[1:]]))
    from cofctl.cli import main as cli_main

    cli_main(prog_name=prog_name)


def _fast_status(porcelain: bool, short_format: bool, show_branch: bool) -> int:
    from cofctl.client import Client
    from cofctl.status_text import render
    from protocol.errors import CofError

    try:
        result = Client.from_environ().call("status", {"paths": []})
    except CofError as exc:
        sys.stderr.write(f"cof: {' '.join(exc.message.split()) or exc.code}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("cof: interrupted\n")
        return 130
    sys.stdout.write(render(result, porcelain, short_format, show_branch))
    return 0
