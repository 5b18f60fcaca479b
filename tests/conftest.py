"""Suite-wide setup: the hypothesis profile named by ``COF_HYPOTHESIS_PROFILE``."""

from __future__ import annotations

from tests.hypothesis_profiles import load

load()
