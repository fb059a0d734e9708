"""Loading the plugin (every pytest start) imports nothing heavy: the harness's roles load
when a fixture or hook that needs them runs (as Hypothesis's pytest plugin does)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("httpx", "hdrh", "nacl", "filelock", "psycopg", "redis", "nats", "locust", "jinja2",
         "reference_system.consensus", "prsm_validate.targets.local",
         "prsm_validate.nemesis", "prsm_validate.checker", "prsm_validate.client")


def test_loading_the_plugin_imports_no_heavy_module():
    code = ("import json, sys; import prsm_validate.plugin, prsm_validate.sla.plugin; "
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                       text=True, check=True).stdout)
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []
