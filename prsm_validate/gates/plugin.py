"""``--prsm-gate=M`` (or ``M4,M5``): run exactly what the gates need, write ``gate-M.json``
per gate, exit 0 when every gate passes and 1 when one fails (also when the gates select no
scenario: evidence-only gates never end with pytest's "no tests" status 5).

``--prsm-evidence DIR`` (ini ``prsm_evidence``) is the platform repository that evidence
criteria check; default: the reference system's own artifacts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prsm_validate.gates.definitions import Gate, GateFileError, load_gates, select_gates
from prsm_validate.gates.evaluate import GATE_SLA, Location, evaluate, selected

DEFAULT_FILE = "fixtures/gates.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--prsm-evidence`` and the ini keys of the gates."""
    group = parser.getgroup("prsm")
    group.addoption("--prsm-evidence", dest="prsm_evidence", default=None, metavar="DIR",
                    help="platform repository checked by evidence criteria (default: the "
                    "reference system's own artifacts)")
    parser.addini("prsm_evidence", "platform repository checked by evidence criteria")
    parser.addini("prsm_gates_file", "gate definitions file (default fixtures/gates.yaml)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the gate plugin when ``--prsm-gate`` is given (an empty value is an error)."""
    from prsm_validate.session import SESSION_KEY, SETTINGS_KEY

    spec = config.stash[SETTINGS_KEY].gate
    if spec is None:
        return
    gates = load_selected(config, spec)
    plugin = GatePlugin(config, gates, evidence_root(config), config.stash[SESSION_KEY])
    config.pluginmanager.register(plugin, "prsm-gate")


def gates_file(config: pytest.Config) -> Path:
    """The gate file: ini ``prsm_gates_file`` (relative to the ini file), else
    ``fixtures/gates.yaml`` at the rootdir, the invocation dir or this checkout."""
    raw = config.getini("prsm_gates_file")
    if raw:
        base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
        return Path(raw) if Path(raw).is_absolute() else base / raw
    import prsm_validate

    candidates = [Path(config.rootpath), Path(config.invocation_params.dir),
                  Path(prsm_validate.__file__).resolve().parents[1]]
    found = [c / DEFAULT_FILE for c in candidates if (c / DEFAULT_FILE).is_file()]
    return found[0] if found else candidates[0] / DEFAULT_FILE


def load_selected(config: pytest.Config, spec: str) -> list[Gate]:
    """The gates ``spec`` names; mistakes are usage errors naming the file and the fix."""
    path = gates_file(config)
    try:
        return select_gates(load_gates(path), spec, path)
    except GateFileError as exc:
        raise pytest.UsageError(str(exc)) from None


def load_gate(config: pytest.Config, name: str) -> Gate:
    """One gate by name (usage error otherwise)."""
    return load_selected(config, name)[0]


def evidence_root(config: pytest.Config) -> Path:
    """``--prsm-evidence`` (relative to the invocation dir), ini ``prsm_evidence`` (relative
    to the ini file), else the reference system's own repository folder."""
    from prsm_validate.evidence import default_root

    option, ini = config.getoption("prsm_evidence"), config.getini("prsm_evidence")
    if option is not None:
        path, what = Path(config.invocation_params.dir) / option, f"--prsm-evidence={option}"
    elif ini:
        base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
        path, what = base / ini, f"ini prsm_evidence = {ini}"
    else:
        return default_root()
    if not str(option if option is not None else ini).strip() or not path.is_dir():
        raise pytest.UsageError(f"{what}: not a folder; name the platform repository to "
                                "check (a checkout with terraform/, Kubernetes manifests, "
                                ".github/workflows, ...)")
    return path.resolve()


class GatePlugin:
    """Selects the gates' scenarios and turns the run's outcomes into gate verdicts."""

    def __init__(self, config: pytest.Config, gates: list[Gate], evidence: Path,
                 session: Any) -> None:
        self.config = config
        self.gates = gates
        self.evidence = evidence
        self.session = session
        self.verdicts: list[dict[str, Any]] = []
        self.locations: dict[str, Location] = {}
        session.uses_prsm = True

    @property
    def criteria(self) -> list[Any]:
        """Every criterion of the selected gates (a criterion shared by two gates once)."""
        seen: dict[str, Any] = {}
        for gate in self.gates:
            for criterion in gate.criteria:
                seen.setdefault(criterion.id, criterion)
        return list(seen.values())

    def _wanted(self, nodeid: str) -> bool:
        return any(selected(c, nodeid) for c in self.criteria if c.kind == "automated")

    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """Keep only the scenarios the gates' automated criteria select."""
        keep = [item for item in items if self._wanted(item.nodeid)]
        dropped = [item for item in items if not self._wanted(item.nodeid)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember where each test is written (the evidence line of its criterion)."""
        file, line, _name = report.location
        self.locations.setdefault(report.nodeid, (file, None if line is None else line + 1))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Any:
        """After the test body: judge the SLA lines of the criteria selecting this test on its
        metric store, and carry the results on the report (xdist-safe)."""
        report: pytest.TestReport = yield
        lines = [(c.id, line) for c in self.criteria if selected(c, item.nodeid)
                 for line in c.sla]
        if call.when == "call" and lines:
            report.user_properties.append((GATE_SLA, _judge(item, lines)))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Evaluate the gates (before the run report is written) and set the exit status."""
        if self.session.is_worker:
            return
        from prsm_validate.evidence.base import Repository

        repo, judged = Repository(self.evidence), {}
        self.session.store.create()
        for gate in self.gates:
            verdict = evaluate(gate, self.session.reports, repo, self.locations, judged)
            self.verdicts.append(verdict)
            self.session.store.write_json(f"gate-{gate.name}.json", verdict)
            self.session.thresholds += [
                {"source": f"gate {gate.name}", "name": c["id"], "threshold": c["threshold"],
                 "measured": c.get("measured"), "verdict": c["verdict"]}
                for c in verdict["criteria"] if c.get("threshold")]
        failed = any(v["verdict"] != "pass" for v in self.verdicts)
        self.session.gate_passed = not failed
        if failed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK  # an evidence-only gate that passed

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """One line per criterion, then each gate's verdict."""
        for verdict in self.verdicts:
            terminalreporter.section(f"gate {verdict['gate']}: {verdict['title']}")
            for c in verdict["criteria"]:
                terminalreporter.write_line(criterion_line(c))
            failing = ", ".join(verdict["failing"]) or "none"
            terminalreporter.write_line(f"gate {verdict['gate']}: {verdict['verdict'].upper()}"
                                        f" (failing: {failing}; manual: "
                                        f"{len(verdict['manual'])})")


def criterion_line(c: dict[str, Any], width: int = 240) -> str:
    """``VERDICT  id [kind] measured vs threshold: reason`` on one line."""
    figures = ""
    if c.get("measured") is not None and c.get("threshold"):
        figures = f" {_short(c['measured'])} vs {c['threshold']}"
    line = f"{c['verdict'].upper():13} {c['id']} [{c['kind']}]{figures}: {c.get('reason', '')}"
    return line if len(line) <= width else line[:width - 3] + "..."


def _short(measured: Any) -> str:
    return json.dumps(measured, separators=(",", ":")) if isinstance(measured, dict) else str(
        measured)


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
