"""``--prsm-gate=M``: run exactly what gate M needs, write ``gate-M.json``, fail when unmet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prsm_validate.gates.definitions import Gate, GateFileError, load_gates
from prsm_validate.gates.evaluate import GATE_SLA, evaluate, selected

DEFAULT_FILE = "fixtures/gates.yaml"


def load_gate(config: pytest.Config, name: str) -> Gate:
    """The named gate from the gate file (ini ``prsm_gates_file``); usage errors otherwise."""
    raw = config.getini("prsm_gates_file") or DEFAULT_FILE
    path = Path(raw) if Path(raw).is_absolute() else Path(config.rootpath) / raw
    try:
        gates = load_gates(path)
    except GateFileError as exc:
        raise pytest.UsageError(str(exc)) from None
    if name not in gates:
        raise pytest.UsageError(f"--prsm-gate={name}: no such gate in {path}; "
                                f"gates: {', '.join(gates)}")
    return gates[name]


class GatePlugin:
    """Selects the gate's scenarios and turns the run's outcomes into the gate verdict."""

    def __init__(self, config: pytest.Config, gate: Gate, session: Any) -> None:
        self.config = config
        self.gate = gate
        self.session = session
        self.verdict: dict[str, Any] | None = None
        session.uses_prsm = True

    def _wanted(self, nodeid: str) -> bool:
        return any(selected(c, nodeid) for c in self.gate.criteria if c.kind == "automated")

    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """Keep only the scenarios the gate's automated criteria select."""
        keep = [item for item in items if self._wanted(item.nodeid)]
        dropped = [item for item in items if not self._wanted(item.nodeid)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Any:
        """After the test body: judge the SLA lines of the criteria selecting this test on its
        metric store, and carry the results on the report (xdist-safe)."""
        report: pytest.TestReport = yield
        lines = [(c.id, line) for c in self.gate.criteria if selected(c, item.nodeid)
                 for line in c.sla]
        if call.when == "call" and lines:
            report.user_properties.append((GATE_SLA, _judge(item, lines)))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Evaluate the gate (before the run report is written) and set the exit status."""
        if self.session.is_worker:
            return
        self.verdict = evaluate(self.gate, self.session.reports, Path(self.config.rootpath))
        self.session.store.create()
        self.session.store.write_json(f"gate-{self.gate.name}.json", self.verdict)
        self.session.thresholds += [
            {"source": f"gate {self.gate.name}", "name": c["id"], "threshold": c["threshold"],
             "measured": c.get("measured"), "verdict": c["verdict"]}
            for c in self.verdict["criteria"] if c.get("threshold")]
        self.session.gate_passed = self.verdict["verdict"] == "pass"
        if self.verdict["verdict"] != "pass":
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """One line per criterion, then the gate verdict."""
        if self.verdict is None:
            return
        terminalreporter.section(f"gate {self.gate.name}: {self.gate.title}")
        for c in self.verdict["criteria"]:
            terminalreporter.write_line(f"{c['verdict'].upper():13} {c['id']}: "
                                        f"{c.get('reason', '')}"[:200])
        failing = ", ".join(self.verdict["failing"]) or "none"
        terminalreporter.write_line(f"gate {self.gate.name}: {self.verdict['verdict'].upper()}"
                                    f" (failing: {failing})")


def _judge(item: pytest.Item, lines: list[tuple[str, str]]) -> list[dict[str, Any]]:
    from prsm_validate.sla.evaluate import evaluate_lines
    from prsm_validate.sla.plugin import STORE_KEY
    from prsm_validate.sla.store import MetricStore

    store = item.stash.get(STORE_KEY, None) or MetricStore()
    judged = []
    for criterion, line in lines:
        for result in evaluate_lines([line], store):
            judged.append({"criterion": criterion, "line": line, "nodeid": item.nodeid,
                           "message": result.message(), **result.to_json()})
    return judged
