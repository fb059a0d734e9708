"""Faults reach a target's control only through the small capability protocols (checked with
isinstance): a control lacking one makes the scenario skip naming the capability, and every
fault, a wipe included, is recorded in the history."""

from __future__ import annotations

import pytest

from prsm_validate.history import History
from prsm_validate.nemesis.core import Nemesis
from prsm_validate.targets import base
from prsm_validate.targets.docker import DockerTarget
from prsm_validate.targets.local import LocalTarget


class Processes:
    """A control with process faults only."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def kill(self, component: str) -> None:
        self.calls.append(("kill", component))

    def pause(self, component: str) -> None:
        self.calls.append(("pause", component))

    def resume(self, component: str) -> None:
        self.calls.append(("resume", component))

    def restart(self, component: str) -> None:
        self.calls.append(("restart", component))

    def components(self) -> list[str]:
        return ["node-0"]


class Wiping(Processes):
    def wipe_node(self, name: str) -> None:
        self.calls.append(("wipe", name))


def _nemesis(control: object, capabilities: frozenset[str]) -> Nemesis:
    deployment = base.Deployment("t", "remote", "http://127.0.0.1:9", "reference", capabilities,
                                 None, False, True, control=control)  # type: ignore[arg-type]
    return Nemesis(deployment, History())


def test_the_local_target_implements_every_control_protocol():
    local = LocalTarget()  # not started: nothing runs
    for protocol in (base.ProcessControl, base.LinkControl, base.ByzantineControl,
                     base.TwinControl, base.WipeControl, base.LogCollector, base.Keepable):
        assert isinstance(local, protocol), protocol.__name__
    assert base.WIPE in base.LOCAL_CAPABILITIES


def test_the_docker_target_cuts_links_but_cannot_wipe():
    docker = DockerTarget.__new__(DockerTarget)
    assert isinstance(docker, base.LinkControl)
    assert not isinstance(docker, base.WipeControl)
    assert base.WIPE not in DockerTarget.capabilities


def test_a_control_without_the_protocol_skips_naming_the_capability():
    nemesis = _nemesis(Processes(), frozenset({base.WIPE, base.LINK_FAULTS}))
    with pytest.raises(pytest.skip.Exception, match=r"lacks capability wipe .*WipeControl"):
        nemesis.wipe("node-0")
    with pytest.raises(pytest.skip.Exception, match="lacks capability link_faults"):
        nemesis.cut("api", "redis")


def test_a_capability_not_offered_skips_even_if_the_control_could():
    with pytest.raises(pytest.skip.Exception, match=r"lacks capability wipe$"):
        _nemesis(None, frozenset({base.WIPE})).wipe("node-0")
    with pytest.raises(pytest.skip.Exception, match="lacks capability wipe"):
        _nemesis(Wiping(), frozenset()).wipe("node-0")


def test_a_wipe_goes_through_the_nemesis_and_is_recorded():
    control = Wiping()
    nemesis = _nemesis(control, frozenset({base.WIPE}))
    record = nemesis.wipe("node-0")
    assert control.calls == [("wipe", "node-0")]
    assert record.kind == "wipe" and record.target == "node-0"
    assert [(e.f, e.value["phase"]) for e in nemesis.history.events] == [("wipe", "start")]
