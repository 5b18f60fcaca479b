"""``CMD [ARGS] -- PATHS``: click swallows ``--``, but git-style commands need to know
which words came after it (paths) and which before (revisions)."""

from __future__ import annotations

from typing import Any

import click

META_KEY = "cof.after_dashdash"


class DashDashCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            i = args.index("--")
            ctx.meta[META_KEY] = list(args[i + 1 :])
            return super().parse_args(ctx, args[:i])
        return super().parse_args(ctx, args)


def after_dashdash() -> list[str] | None:
    """The words after ``--``, or None when the command line had no ``--``."""
    value: Any = click.get_current_context().meta.get(META_KEY)
    return list(value) if value is not None else None
