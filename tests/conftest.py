"""Suite-wide setup: the hypothesis profile named by ``COF_HYPOTHESIS_PROFILE``."""

from __future__ import annotations

import pytest

from tests.hypothesis_profiles import active, load

load()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The long profile outlasts the suite's 300 s per-test limit by design: lift it
    (unless ``--timeout`` was given on the command line)."""
    if active() == "long" and config.getoption("timeout", None) is None:
        config.option.timeout = 0.0
