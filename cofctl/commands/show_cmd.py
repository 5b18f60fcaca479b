"""``cof show`` (defined beside ``log``, which shares its rendering)."""

from cofctl.commands.log_cmd import show_command as command

__all__ = ["command"]
