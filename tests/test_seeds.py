"""One seed derivation: stable, distinct per label, and the only one in the harness."""

from __future__ import annotations

import re
from pathlib import Path

from prsm_validate.seeds import derive_seed

ROOT = Path(__file__).resolve().parents[1]


def test_derived_seeds_are_stable_and_distinct_per_label():
    assert derive_seed(7, "nemesis", "t::a") == derive_seed(7, "nemesis", "t::a")
    seeds = {derive_seed(7, "client", n) for n in range(1000)}
    assert len(seeds) == 1000
    assert derive_seed(7, "x") != derive_seed(8, "x")
    assert derive_seed(1058215230, "edge", 2) == 2_444_689_649  # nights replay as before


def test_no_other_seed_arithmetic_in_the_harness_or_scenarios():
    pattern = re.compile(r"seed\s*[\*\^]\s*\d|crc32\(")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for folder in ("prsm_validate", "scenarios")
                 for p in (ROOT / folder).rglob("*.py") if p.name != "seeds.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []
