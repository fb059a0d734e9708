"""Fixtures: the session's deployment, authenticated clients, histories, process control."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from prsm_validate.client.api import ApiClient
    from prsm_validate.history import History
    from prsm_validate.settings import RunSettings
    from prsm_validate.targets.base import Deployment, ProcessControl


def _session(config: pytest.Config) -> Any:
    from prsm_validate.session import SESSION_KEY

    return config.stash[SESSION_KEY]


@pytest.fixture(scope="session")
def prsm_settings(pytestconfig: pytest.Config) -> RunSettings:
    """The run's settings (target spec, seed, report root...)."""
    return _session(pytestconfig).settings


@pytest.fixture(scope="session")
def prsm_seed(prsm_settings: RunSettings) -> int:
    """The run's seed; a failing run prints ``--prsm-seed=N`` to replay it."""
    return prsm_settings.seed


@pytest.fixture(scope="session")
def prsm_run_dir(pytestconfig: pytest.Config) -> Any:
    """This run's report folder (``<report root>/<run id>``)."""
    return _session(pytestconfig).store.path


@pytest.fixture(scope="session")
def prsm_deployment(pytestconfig: pytest.Config) -> Iterator[Deployment]:
    """The system under test, started (or attached to) once per session (per xdist worker)."""
    from prsm_validate.targets.processes import StartupError

    session = _session(pytestconfig)
    spec = session.settings.spec
    target = pytestconfig.hook.pytest_prsm_make_target(config=pytestconfig, spec=spec)
    if target is None:
        pytest.fail(f"no plugin can make target {session.settings.spec.name!r}", pytrace=False)
    try:
        deployment = target.start()
    except StartupError as exc:
        pytest.fail(f"target {target.name!r} did not start: {exc}", pytrace=False)
    session.ready_s = getattr(target, "ready_s", None)
    _read_contract(pytestconfig, deployment, getattr(spec, "openapi_url", None))
    session.deployment_info = deployment.describe()
    session.record_deployment(getattr(pytestconfig, "workerinput", {}).get("workerid", "main"))
    pytestconfig.hook.pytest_prsm_deployment_ready(config=pytestconfig, deployment=deployment,
                                            ready_s=session.ready_s)
    _announce_ready(pytestconfig, target.name, session.ready_s)
    try:
        yield deployment
    finally:
        _release(pytestconfig, session, target, deployment)


def _read_contract(config: pytest.Config, deployment: Deployment, openapi_url: str | None
                   ) -> None:
    """The target's own contract, read once per session (said once, in the output)."""
    from prsm_validate.client.openapi import load_contract
    from prsm_validate.client.profiles import profile

    deployment.api_profile = deployment.api_profile or profile(deployment.profile)
    source = load_contract(deployment.api_url, openapi_url)
    deployment.contract, deployment.contract_note = source.contract, source.note
    if source.contract is not None:
        deployment.identity.update(openapi_title=source.contract.title,
                                   openapi_version=source.contract.version)
    from prsm_validate.terminal import announce

    announce(config, f"prsm: contract: {source.note}")


def _announce_ready(config: pytest.Config, name: str, ready_s: float | None) -> None:
    from prsm_validate.terminal import announce

    if ready_s is not None:
        announce(config, f"prsm: target {name!r} ready in {ready_s:.2f}s")


def _release(config: pytest.Config, session: Any, target: Any, deployment: Any) -> None:
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    from prsm_validate.targets.base import Keepable, LogCollector

    if isinstance(target, LogCollector) and session.uses_prsm:
        target.save_logs(session.store.logs_path / ("" if worker == "main" else worker))
    if session.settings.keep and isinstance(target, Keepable):
        _keep(config, session, target, deployment, worker)
        return
    target.stop()


def _keep(config: pytest.Config, session: Any, target: Any, deployment: Any,
          worker: str) -> None:
    """Leave the system running; record it and say how to reach and stop it."""
    from prsm_validate.targets import kept
    from prsm_validate.terminal import announce

    target.detach()
    endpoints = {"api_url": deployment.api_url, **deployment.services,
                 "nodes": [n.url for n in deployment.nodes]}
    kept.write(session.store.path, worker, list(target.pids().values()), target.root,
               endpoints)
    announce(config, f"prsm: system left running (--prsm-keep): API {deployment.api_url}, "
             f"data in {target.root}")
    announce(config, f"prsm: stop it with: prsm-validate down {session.store.path}")


@pytest.fixture
def prsm_history(request: pytest.FixtureRequest, pytestconfig: pytest.Config
                 ) -> Iterator[History]:
    """This test's history, written to ``<run>/histories/<test>.jsonl``."""
    from prsm_validate.history import History

    session = _session(pytestconfig)
    history = History(session.store.history_path(request.node.nodeid))
    if isinstance(request.node, pytest.Item) and history.path is not None:
        from prsm_validate.report.allure import remember_history

        remember_history(request.node, history.path)
    try:
        yield history
    finally:
        history.close()


@pytest.fixture
def prsm_client(prsm_deployment: Deployment, prsm_history: History, prsm_metrics: Any
                ) -> Iterator[Callable[..., ApiClient]]:
    """Factory of clients for the target's API profile: ``prsm_client(login=False)``."""
    from prsm_validate.client.api import ApiClient

    clients: list[ApiClient] = []

    def make(login: bool = False, timeout_s: float = 10.0) -> ApiClient:
        client = ApiClient.for_deployment(prsm_deployment, prsm_history, timeout_s,
                                          prsm_metrics)
        clients.append(client)
        if login:
            _login(client, prsm_deployment)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()


def _login(client: ApiClient, deployment: Deployment, credentials: Any = None) -> None:
    credentials = credentials or deployment.credentials
    if credentials is None:
        pytest.skip(f"target {deployment.target!r} has no credentials configured")
    from prsm_validate.errors import excerpt

    response = client.login(credentials)
    if not response.ok:
        from prsm_validate.client.api import UnexpectedStatus

        raise UnexpectedStatus(f"login to {deployment.api_url} as "
                               f"{credentials.username} failed: HTTP "
                               f"{response.status}; body: {excerpt(response.body)}",
                               "availability" if response.status >= 500 else "contract")


@pytest.fixture
def prsm_api(prsm_client: Callable[..., ApiClient]) -> ApiClient:
    """A client logged in with the target's credentials."""
    return prsm_client(login=True)


@pytest.fixture
def prsm_second_api(prsm_deployment: Deployment, prsm_client: Callable[..., ApiClient]
                    ) -> ApiClient:
    """A client logged in as the target's second plain user (two-user authorization); skips
    with the reason when the target has none (a remote entry's ``second_user``)."""
    if prsm_deployment.second_credentials is None:
        pytest.skip(prsm_deployment.second_user_note)
    client = prsm_client()
    _login(client, prsm_deployment, prsm_deployment.second_credentials)
    return client


@pytest.fixture
def prsm_admin_api(prsm_deployment: Deployment, prsm_client: Callable[..., ApiClient]
                   ) -> ApiClient:
    """A client logged in as the target's admin user; skips with the reason when the target
    has none (a remote entry's ``admin_user``)."""
    if prsm_deployment.admin_credentials is None:
        pytest.skip(prsm_deployment.admin_user_note)
    client = prsm_client()
    _login(client, prsm_deployment, prsm_deployment.admin_credentials)
    return client


@pytest.fixture
def prsm_control(prsm_deployment: Deployment) -> ProcessControl:
    """Process control of the target's components (kill, pause, resume, restart)."""
    if prsm_deployment.control is None:
        pytest.skip(f"target {prsm_deployment.target!r} offers no process control")
    return prsm_deployment.control


@pytest.fixture
def prsm_nemesis(request: pytest.FixtureRequest, prsm_deployment: Deployment,
                 prsm_history: History, prsm_seed: int) -> Iterator[Any]:
    """The fault injector for this test; every fault still in force is healed afterwards.
    Its random choices follow ``--prsm-seed`` and the test's id, so a run replays."""
    from prsm_validate.nemesis.core import Nemesis
    from prsm_validate.seeds import derive_seed

    seed = derive_seed(prsm_seed, "nemesis", request.node.nodeid)
    nemesis = Nemesis(prsm_deployment, prsm_history, seed)
    try:
        yield nemesis
    finally:
        errors = nemesis.heal_all()
        if nemesis.timeline and isinstance(request.node, pytest.Item):
            # Travels with the test report (also from xdist workers) into faults.json.
            request.node.user_properties.append(
                ("faults", [record.to_json() for record in nemesis.timeline]))
        if errors:
            pytest.fail("nemesis could not heal: " + "; ".join(errors), pytrace=False)


@pytest.fixture
def nemesis(prsm_nemesis: Any) -> Any:
    """Alias of ``prsm_nemesis``."""
    return prsm_nemesis


@pytest.fixture
def prsm_load(prsm_deployment: Deployment, prsm_api: ApiClient, prsm_metrics: Any,
              record_property: Callable[[str, object], None]) -> Callable[..., Any]:
    """Run a bounded Locust load against the target: ``prsm_load(endpoints, users=10, ...)``.

    Requests carry the test's bearer token; results go into ``prsm_metrics`` (so ``sla``
    markers judge them) and into the report. See :func:`prsm_validate.load.engine.run_load`.
    """
    from prsm_validate.load.engine import run_load

    runs = 0

    def load(endpoints: list[Any], **settings: Any) -> Any:
        nonlocal runs
        headers = {"Authorization": f"Bearer {prsm_api.token}"}
        result = run_load(prsm_deployment.api_url, endpoints, headers=headers, **settings)
        result.record_into(prsm_metrics)
        runs += 1
        record_property(f"load_{runs}", {**result.summary(), "settings": {
            k: v for k, v in settings.items() if isinstance(v, int | float | str)}})
        return result

    return load


@pytest.fixture
def prsm_cluster(prsm_deployment: Deployment) -> Iterator[Any]:
    """The consensus replicas' own state (``/status``, ``/log``, ``/ledger``); skips on a
    target that exposes no consensus nodes."""
    from prsm_validate.client.nodes import Cluster
    from prsm_validate.targets.base import CONSENSUS

    if not prsm_deployment.has(CONSENSUS) or not prsm_deployment.nodes:
        pytest.skip(f"target {prsm_deployment.target!r} lacks capability {CONSENSUS} "
                    "(no consensus node introspection URLs)")
    with Cluster(prsm_deployment) as cluster:
        yield cluster


@pytest.fixture
def prsm_transfers(request: pytest.FixtureRequest, prsm_deployment: Deployment,
                   prsm_history: History, prsm_api: ApiClient, prsm_seed: int
                   ) -> Callable[..., Any]:
    """Factory of seeded FTNS transfer workloads among this test's own funded sub-accounts:
    ``with prsm_transfers(clients=4) as run: ...`` (a :class:`WorkloadRun`)."""
    import uuid

    from prsm_validate.client.workload import WorkloadRun, fund_accounts
    from prsm_validate.generator.transfers import TransferWorkload

    user = prsm_deployment.credentials.username if prsm_deployment.credentials else "user"
    tag = uuid.uuid4().hex[:8]

    def make(clients: int = 4, accounts: int = 4, funding: int = 10_000, **options: Any
             ) -> WorkloadRun:
        names = [f"{user}/{tag}-{i}" for i in range(accounts)]
        problem = fund_accounts(prsm_api, prsm_history, user, names, funding, tag)
        if problem:
            pytest.fail(problem, pytrace=False)
        workload = TransferWorkload(names, prsm_seed, prefix=tag)
        return WorkloadRun(prsm_deployment, prsm_history,
                           [workload.client(n) for n in range(clients)], accounts=names,
                           **options)

    return make
