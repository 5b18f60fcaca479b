"""``cof config [--global|--local] NAME [VALUE] | --unset NAME | -l [--show-origin]``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call

# git's exit statuses, which scripts test: a key that is not set, and --unset of one.
EXIT_NOT_SET = 1
EXIT_UNSET_NOTHING = 5


@click.command("config")
@click.argument("name", required=False)
@click.argument("value", required=False)
@click.option("--global", "scope", flag_value="global", help="The user's COF_HOME/config.toml.")
@click.option("--local", "scope", flag_value="local", help="This repository's .cof/config.toml.")
@click.option("--get", "get", is_flag=True, help="Print NAME's value (the default action).")
@click.option("--unset", is_flag=True, help="Remove NAME from the file.")
@click.option("-l", "--list", "listing", is_flag=True, help="List every setting in scope.")
@click.option("--show-origin", is_flag=True, help="Show the file (or variable) of each value.")
@json_option
def command(
    name: str | None,
    value: str | None,
    scope: str | None,
    get: bool,
    unset: bool,
    listing: bool,
    show_origin: bool,
    as_json: bool,
) -> None:
    """Get, set, unset or list settings (NAME is SECTION.KEY, e.g. user.name).

    Changes go to the repository's .cof/config.toml (--local, the default inside a
    repository) or the user's COF_HOME/config.toml (--global); COF_SECTION_KEY
    variables beat both. A value is checked before anything is written.
    """
    if sum((get, unset, listing)) > 1:
        raise click.UsageError("--get, --unset and --list exclude each other")
    if listing:
        if name is not None:
            raise click.UsageError("--list takes no NAME")
        settings = call("config", {"action": "list", "scope": scope})["settings"]
        if as_json:
            emit_json(settings)
        for setting in [] if as_json else settings:
            _echo(f"{setting['name']}={setting['value']}", setting, show_origin)
        return
    if name is None:
        raise click.UsageError("NAME is missing (or use --list)")
    if value is not None and (get or unset):
        raise click.UsageError(f"--{'get' if get else 'unset'} takes NAME alone")
    if unset or value is not None:
        params = {"action": "unset" if unset else "set", "name": name, "scope": scope}
        result = call("config", params if unset else {**params, "value": value})
        if result["note"] and (not unset or result["removed"]):
            click.echo(f"cof: note: {result['note']}", err=True)
        if unset and not result["removed"]:
            raise SystemExit(EXIT_UNSET_NOTHING)
        return
    setting = call("config", {"action": "get", "name": name, "scope": scope})["setting"]
    if as_json:
        emit_json(setting)
    elif setting is not None:
        _echo(setting["value"], setting, show_origin)
    if setting is None:
        raise SystemExit(EXIT_NOT_SET)


def _echo(text: str, setting: dict[str, str], show_origin: bool) -> None:
    click.echo(f"{setting['origin']}\t{text}" if show_origin else text)
