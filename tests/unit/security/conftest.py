"""Hypothesis profiles of the security properties, chosen by HYPOTHESIS_PROFILE.

- dev: the default outside CI: a quick pass (tens of examples per property) for
  `pytest tests/unit` on a shared machine.
- ci: the default under CI=true: 400 accepted examples per property (about 1,000
  strings drawn, the model refuses the rest; 400 mutated files in process, 10 in
  a real process), derandomized (the same examples on every run).
- fuzz: `make fuzz`: a much larger budget, random seeds, every failure printed.

No example database: CI reproduces from derandomize, a fuzz failure from the
printed minimal example (`@reproduce_failure` / the falsifying example).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
# No explain phase: it re-runs a failing render hundreds of times for little news.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

settings.register_profile(
    "dev", max_examples=30, deadline=None, database=None, derandomize=True,
    suppress_health_check=_SLOW_IS_FINE, phases=_PHASES,
)
settings.register_profile(
    "ci", max_examples=400, deadline=None, database=None, derandomize=True,
    suppress_health_check=_SLOW_IS_FINE, print_blob=True, phases=_PHASES,
)
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, database=None, derandomize=False,
    suppress_health_check=_SLOW_IS_FINE, print_blob=True,
    phases=_PHASES,
)

_in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _in_ci else "dev"))
