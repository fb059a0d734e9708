"""The prsm-validate pytest plugin: options, markers, capability checks, fixtures, reports.

Kept light: heavy modules are imported inside fixtures and hooks that need them.
"""

from __future__ import annotations

import pytest

from prsm_validate import hookspecs
from prsm_validate.fixtures import (  # noqa: F401  (fixtures are found by name)
    nemesis,
    prsm_admin_api,
    prsm_api,
    prsm_client,
    prsm_cluster,
    prsm_control,
    prsm_deployment,
    prsm_history,
    prsm_load,
    prsm_nemesis,
    prsm_run_dir,
    prsm_second_api,
    prsm_seed,
    prsm_settings,
    prsm_transfers,
)
from prsm_validate.session import PrsmSession, XdistHooks
from prsm_validate.settings import OPTIONS, read_settings

# Feature plugins, registered with the main one (each may add options and fixtures).
SUBPLUGINS: tuple[str, ...] = ("prsm_validate.sla.plugin", "prsm_validate.gates.plugin",
                               "prsm_validate.outcomes")

MARKERS = {
    "integration": "integration scenario against the API",
    "consensus": "PBFT consensus scenario",
    "byzantine": "Byzantine-fault scenario",
    "partition": "network partition scenario",
    "pipeline": "telemetry pipeline scenario",
    "edge": "edge agent / inference failover scenario",
    "sla": "sla(metric, condition, ...): SLA thresholds evaluated after the test",
    "load": "load-generating scenario",
    "chaos": "injects faults (skipped on protected targets without both opt-ins)",
    "security": "security scenario",
    "destructive": "may harm the target (skipped on protected targets without both opt-ins)",
    "slow": "takes more than a few seconds",
    "gate(*milestones)": "criterion of the named milestone gates",
    "requires(*capabilities)": "skip unless the target offers every named capability or "
                               "profile feature",
}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register the ``prsm_*`` hooks."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """The ``--prsm-*`` options and their ``prsm_*`` ini keys."""
    group = parser.getgroup("prsm", "prsm-validate (validation of the PRSM platform)")
    for name, kind, _default, help_text in OPTIONS:
        dest = "prsm_" + name.replace("-", "_")
        group.addoption(f"--prsm-{name}", dest=dest, type=kind, default=None, help=help_text)
        parser.addini(dest, help_text)
    group.addoption("--prsm-allow-destructive", action="store_true", dest="prsm_allow_destructive",
                    help="permit faults on protected targets (the target must also say "
                    "allow_chaos: true)")
    group.addoption("--prsm-keep", action="store_true", dest="prsm_keep",
                    help="leave the started system running after the session; print how to "
                    "reach and stop it")
    for name in SUBPLUGINS:
        pluginmanager.import_plugin(name)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register markers, validate settings, start the session plugin."""
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    workerinput = getattr(config, "workerinput", None)
    seed = workerinput.get("prsm_seed") if workerinput else None
    settings = read_settings(config, seed)
    session = PrsmSession(config, settings, workerinput)
    from prsm_validate.report import allure, junit

    allure.enable(config)
    if workerinput is None:
        junit.enable(config)
    config.pluginmanager.register(session, "prsm-session")
    if config.pluginmanager.hasplugin("xdist") and workerinput is None:
        config.pluginmanager.register(XdistHooks(session), "prsm-xdist")


@pytest.hookimpl(trylast=True)
def pytest_prsm_make_target(config: pytest.Config, spec: object) -> object:
    """Default targets: ``local`` and named remote targets."""
    from prsm_validate.targets.config import TargetSpec

    assert isinstance(spec, TargetSpec)
    settings = config.stash[SETTINGS_KEY]
    if spec.kind == "local":
        from prsm_validate.targets.local import LocalOptions, LocalTarget

        return LocalTarget(LocalOptions(nodes=settings.nodes, keep=settings.keep))
    if spec.kind == "docker":
        from prsm_validate.targets.docker import DockerTarget
        from prsm_validate.terminal import announce

        return DockerTarget(nodes=settings.nodes, progress=lambda line: announce(config, line))
    if spec.kind == "remote":
        from prsm_validate.targets.remote import RemoteTarget

        return RemoteTarget(spec)
    return None


from prsm_validate.session import SETTINGS_KEY  # noqa: E402
