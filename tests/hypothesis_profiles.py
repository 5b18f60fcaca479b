"""Hypothesis profiles for the whole suite, chosen by ``COF_HYPOTHESIS_PROFILE``.

- ``ci`` (the default): few examples, no deadline (integration examples drive
  subprocesses whose timing varies), derandomized so every run tries the same
  examples and a failure reproduces by re-running the test.
- ``long``: many random examples, for hunting bugs by hand or in a nightly job::

      COF_HYPOTHESIS_PROFILE=long uv run pytest tests/integration/test_status_vs_git.py

(The long profile lifts the suite's 300 s per-test limit, which its runs outlast;
``tests/conftest.py`` does that unless ``--timeout`` is given.)

Tests that drive the real CLI state their own budget through :func:`budget`, so
``ci`` stays within the suite's time limit while ``long`` scales them up.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_ENV = "COF_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "ci"
CI_MAX_EXAMPLES = 20
LONG_MAX_EXAMPLES = 500

settings.register_profile(
    "ci",
    max_examples=CI_MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=LONG_MAX_EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def active() -> str:
    """The profile named by the environment (``ci`` when unset)."""
    name = os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
    if name not in ("ci", "long"):
        raise ValueError(f"{PROFILE_ENV}={name!r}: expected 'ci' or 'long'")
    return name


def load() -> None:
    """Make the environment's profile the default for every hypothesis test."""
    settings.load_profile(active())


def budget(ci: int, long: int) -> int:
    """A count (examples, steps) for expensive tests: ``ci`` or ``long`` by profile."""
    return ci if active() == "ci" else long
