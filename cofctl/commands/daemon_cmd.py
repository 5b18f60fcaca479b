"""``cof daemon start|stop|status``: manage the background daemon."""

from __future__ import annotations

from typing import Any

import click

from cofctl.client import Client
from cofctl.render import emit_json, json_option
from protocol.errors import DaemonUnavailableError


@click.group(name="daemon")
def command() -> None:
    """Start, stop or inspect the cof daemon (cofd)."""


@command.command()
def start() -> None:
    """Start the daemon unless it is already running; print its pid."""
    client = Client.from_environ()
    was_running = client.is_running()
    pid = client.call("ping")["pid"]
    click.echo(f"cofd {'already running' if was_running else 'started'} (pid {pid})")


@command.command()
def stop() -> None:
    """Stop the daemon gracefully and wait until it has exited."""
    client = Client.from_environ(autostart=False)
    pid = client.stop()
    if pid is None:
        click.echo("cofd is not running")
    else:
        click.echo(f"cofd stopped (pid {pid})")


@command.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the daemon's state; exit non-zero when it is not running."""
    client = Client.from_environ(autostart=False)
    try:
        info: dict[str, Any] = client.call("daemon_status")
    except DaemonUnavailableError:
        if as_json:
            emit_json(
                {"running": False, "home": str(client.home), "socket": str(client.socket_path)}
            )
        else:
            click.echo(f"cofd is not running (home {client.home})")
        ctx.exit(DaemonUnavailableError.exit_code)
    if as_json:
        emit_json({"running": True, **info})
        return
    click.echo(_describe(info))


def _describe(info: dict[str, Any]) -> str:
    lines = [
        f"cofd {info['version']} running (pid {info['pid']}, up {info['uptime']:.0f} s)",
        f"home:    {info['home']}",
        f"socket:  {info['socket']}",
        f"log:     {info['log']}",
        f"workers: {info['workers']}",
    ]
    repos = info["repositories"]
    lines.append(f"repositories: {len(repos)}")
    lines.extend(f"  {root}" for root in repos)
    for m in info.get("migration", []):
        lines.append(
            f"  migration {m['state']}: {m['moved_blocks']} blocks moved in {m['runs']} passes, "
            f"{m['pending_blocks']} due, {m['compacted_packs']} packs compacted"
            + (f"; last error: {m['last_error']}" if m["last_error"] else "")
            + f" ({m['repo']})"
        )
    ops = info["in_flight"]
    lines.append(f"in flight: {len(ops)}")
    lines.extend(
        f"  {entry['op']} {entry['state']} {entry['seconds']:.1f} s"
        + (f" in {entry['repo']}" if entry["repo"] else "")
        for entry in ops
    )
    return "\n".join(lines)
