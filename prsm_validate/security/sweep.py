"""The authentication sweep: every operation x every bad-token variant must answer 401 with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750 3), unless the operation is public.

Operations come from the target's OpenAPI document when there is one, else from its API
profile; an operation is public only when the profile maps its method and path with
``auth=False`` or the target's entry lists it in ``public_routes`` (never because the document
says ``security: []``: a refusal the document waives is still checked, and its failure says
where to declare the route public); admin-only when the profile maps it with ``admin=True``.
Each call has its own short timeout: a slow or failing route is recorded in the table and the
sweep goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from prsm_validate.security.tokens import VARIANTS

PLACEHOLDER = "00000000-0000-4000-8000-000000000000"  # a UUID: valid for any path parameter
_PARAM = re.compile(r"\{([^}:]*)(:[^}]*)?\}")
_BODY_METHODS = ("POST", "PUT", "PATCH")
_METHODS = ("GET", *_BODY_METHODS, "DELETE")


@dataclass(frozen=True)
class Operation:
    """One method and path template, whether it needs no authentication and whether only an
    admin may call it."""

    method: str
    path: str
    public: bool
    admin: bool = False
    waived: bool = False  # the document says ``security: []`` (not public for the sweep)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def url(self) -> str:
        """The path with every parameter filled in."""
        return _PARAM.sub(PLACEHOLDER, self.path)


def _normal(path: str) -> str:
    return _PARAM.sub("{}", path.rstrip("/") or "/")


def operations(contract: Any, api_profile: Any) -> list[Operation]:
    """The operations to sweep: the document's (else the profile's), each marked public or
    not, and admin-only or not, by the profile."""
    public = {(m, _normal(p)) for m, p in api_profile.public()}
    admin = {(r.method, _normal(r.path)) for r in api_profile.routes.values() if r.admin}
    found: dict[tuple[str, str], bool] = {}  # (method, path) -> the document waives its auth
    if contract is not None:
        for path, item in (contract.document.get("paths") or {}).items():
            for method, op in (item or {}).items():
                if isinstance(op, dict) and method.upper() in _METHODS:
                    found[(method.upper(), path)] = op.get("security") == []
    else:
        found = {(r.method, r.path): False for r in api_profile.routes.values()
                 if r.path.startswith("/")}
    return sorted((Operation(m, p, (m, _normal(p)) in public, (m, _normal(p)) in admin, waived)
                   for (m, p), waived in found.items()), key=lambda o: (o.path, o.method))


@dataclass(frozen=True)
class Cell:
    """One call of the sweep: the status (or the transport error) and the verdict."""

    operation: str
    variant: str
    status: int | None
    problem: str | None  # None: as expected

    @property
    def text(self) -> str:
        shown = str(self.status) if self.status is not None else "error"
        return shown if self.problem is None else f"{shown} FAIL"


def judge(status: int, challenge: str | None) -> str | None:
    """None when a protected operation refused the call as RFC 6750 says."""
    if status != 401:
        return f"expected HTTP 401, got {status}"
    if not challenge or not challenge.strip().lower().startswith("bearer"):
        return "401 without a WWW-Authenticate: Bearer challenge (RFC 6750 3)"
    return None


def sweep(api_url: str, ops: list[Operation], tokens: dict[str, str | None],
          timeout_s: float = 3.0) -> list[Cell]:
    """Call every protected operation with every variant; public ones are not called."""
    cells: list[Cell] = []
    with httpx.Client(base_url=api_url, trust_env=False) as http:
        for op in ops:
            for variant in VARIANTS:
                if op.public:
                    cells.append(Cell(op.name, variant, None, None))
                    continue
                cells.append(_call(http, op, variant, tokens[variant], timeout_s))
    return cells


def _call(http: httpx.Client, op: Operation, variant: str, token: str | None,
          timeout_s: float) -> Cell:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    body = {} if op.method in _BODY_METHODS else None
    try:
        raw = http.request(op.method, op.url(), json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Cell(op.name, variant, None, f"no answer within {timeout_s:g} s "
                                             f"({type(exc).__name__})")
    return Cell(op.name, variant, raw.status_code,
                judge_operation(op, raw.status_code, raw.headers.get("www-authenticate")))


def judge_operation(op: Operation, status: int, challenge: str | None) -> str | None:
    """:func:`judge`, saying where to declare the route public when the document waived its
    authentication (``security: []``) and it served the call."""
    problem = judge(status, challenge)
    if problem and op.waived and status < 400:
        problem += (" (the OpenAPI document says security: [] for it; if it is meant to be "
                    "public, list it in the target's public_routes)")
    return problem


def table(cells: list[Cell]) -> dict[str, dict[str, str]]:
    """Route -> variant -> status text ("public" for routes not called)."""
    rows: dict[str, dict[str, str]] = {}
    for cell in cells:
        shown = "public" if cell.status is None and cell.problem is None else cell.text
        rows.setdefault(cell.operation, {})[cell.variant] = shown
    return rows


def render(cells: list[Cell]) -> str:
    """The table as text, one route per line."""
    rows = table(cells)
    width = max((len(r) for r in rows), default=10)
    lines = [" ".join([f"{'route':<{width}}", *(f"{v:>14}" for v in VARIANTS)])]
    lines += [" ".join([f"{route:<{width}}", *(f"{row.get(v, ''):>14}" for v in VARIANTS)])
              for route, row in rows.items()]
    return "\n".join(lines)
