"""``cofd.config_edit``: any text value survives a write and a read back unchanged,
and what the file held besides the edited key is kept byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cofd.config_edit import file_settings, set_value, unset_value
from protocol.errors import ConfigError

ORIGINAL = (
    '# a comment the user wrote\n[user]\nemail = "a@b"  # trailing\n\n[gc]\n# auto_gc = true\n'
)


def accept(_layer: dict[str, object]) -> None:
    pass


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
def test_any_text_value_round_trips_and_the_rest_is_kept(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(ORIGINAL)
    set_value(path, "user", "name", value, accept, 0o600)
    settings = {s.name: s.value for s in file_settings(path, "file")}
    assert settings == {"user.email": "a@b", "user.name": value}
    text = path.read_text()
    assert text.startswith('# a comment the user wrote\n[user]\nemail = "a@b"  # trailing\n')
    assert "[gc]\n# auto_gc = true\n" in text
    assert unset_value(path, "user", "name", accept)
    assert path.read_text() == ORIGINAL


def test_a_refused_layer_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)

    def refuse(_layer: dict[str, object]) -> None:
        raise ConfigError("no")

    with pytest.raises(ConfigError):
        set_value(path, "gc", "auto_gc", False, refuse, 0o600)
    assert path.read_text() == ORIGINAL
    assert not unset_value(path, "gc", "auto_gc", accept)  # only a comment names it
