"""``prsm_load_url``: run the load engine from any test against a base URL of its choosing.

The main plugin's ``prsm_load`` runs against the session's target with the test's token; this
one needs no target (a server the test started, a URL from elsewhere). Both record into the
test's ``prsm_metrics`` so ``sla`` markers judge the load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def prsm_load_url(prsm_metrics: Any, record_property: Callable[[str, object], None]
                  ) -> Callable[..., Any]:
    """``prsm_load_url(base_url, endpoints, headers=None, **plan)`` -> LoadResult.

    ``plan`` takes the fields of :class:`prsm_validate.load.engine.LoadPlan` (users, duration_s,
    model, rate, stages, workers, ...). Results go into ``prsm_metrics`` and the report.
    """
    from prsm_validate.load.engine import run_load

    runs = 0

    def load(base_url: str, endpoints: list[Any], headers: dict[str, str] | None = None,
             **plan: Any) -> Any:
        nonlocal runs
        result = run_load(base_url, endpoints, headers=headers or {}, **plan)
        result.record_into(prsm_metrics)
        runs += 1
        record_property(f"load_{runs}", result.summary())
        return result

    return load
