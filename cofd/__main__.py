"""``cofd``: run the cof daemon in the foreground.

Usually started by ``cof`` itself when no daemon answers; run it by hand to watch
its log on stderr. The environment is read here and passed down, nowhere else.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cofd.daemon.lifecycle import run
from protocol.home import resolve_home

LOG_LEVELS = ("debug", "info", "warning", "error")


def main(argv: list[str] | None = None) -> int:
    """Parse options, resolve ``COF_HOME`` and run the daemon until it stops."""
    parser = argparse.ArgumentParser(prog="cofd", description="The cof daemon.")
    parser.add_argument(
        "--home",
        help="state directory (default: $COF_HOME, else "
        "$XDG_STATE_HOME/cof, else ~/.local/state/cof)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    home = Path(args.home).expanduser().absolute() if args.home else resolve_home(env)
    return run(home, env, args.log_level)


if __name__ == "__main__":
    sys.exit(main())
