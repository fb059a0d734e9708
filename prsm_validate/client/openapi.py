"""The target's own contract: its OpenAPI document, read once per session, checking responses.

:func:`load_contract` fetches ``openapi_url`` (default ``<api_url>/openapi.json``), validates the
document with openapi-spec-validator and returns a :class:`Contract` (or None with the reason,
"profile contract only"). :meth:`Contract.check` judges one response: a status the operation
does not declare, or a JSON body that breaks the declared schema, is a :class:`Finding` naming
operation, status, schema path and a body excerpt. The security scenarios reuse the same
document (:attr:`Contract.document`).

Library choice: jsonschema with openapi-schema-validator's OAS 3.0 / 3.1 dialects (nullable,
discriminator, formats), one compiled validator per (operation, status, media type), and
openapi-spec-validator for the document itself. openapi-core does the same job but took about
0.8 ms per response here against about 0.03 ms for a compiled validator, and every response of
every scenario is checked (tens of thousands per run). Operations are located by the profile's
method and path template, so no request routing is needed. Written here: only that lookup.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.errors import ContractViolation, excerpt

SPEC_URI = "urn:prsm:openapi"
_PARAM = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True)
class Finding:
    """One response the document does not allow."""

    operation: str
    method: str
    path: str
    status: int
    problem: str
    schema_path: str = ""
    body: str = ""

    def __str__(self) -> str:
        where = f" at {self.schema_path}" if self.schema_path else ""
        return (f"{self.operation} ({self.method} {self.path}) HTTP {self.status}: "
                f"{self.problem}{where}; body: {self.body}")

    def to_json(self) -> dict[str, Any]:
        """For the report."""
        return {"operation": self.operation, "method": self.method, "path": self.path,
                "status": self.status, "problem": self.problem,
                "schema_path": self.schema_path, "body": self.body}


@dataclass
class Contract:
    """A parsed, validated OpenAPI document and compiled response validators."""

    document: dict[str, Any]
    url: str
    _validators: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._operations = {(m.upper(), _normal(p)): op
                            for p, item in (self.document.get("paths") or {}).items()
                            for m, op in (item or {}).items() if isinstance(op, dict)}

    @property
    def title(self) -> str:
        """``info.title``."""
        return str((self.document.get("info") or {}).get("title", ""))

    @property
    def version(self) -> str:
        """``info.version`` (the API's, not OpenAPI's)."""
        return str((self.document.get("info") or {}).get("version", ""))

    @property
    def openapi_version(self) -> str:
        """The OpenAPI version of the document."""
        return str(self.document.get("openapi", ""))

    def declares(self, method: str, template: str) -> bool:
        """True when the document has an operation for this method and path template."""
        return (method.upper(), _normal(template)) in self._operations

    def describe(self) -> dict[str, Any]:
        """For the report's environment."""
        return {"url": self.url, "title": self.title, "version": self.version,
                "openapi": self.openapi_version, "operations": len(self._operations)}

    def check(self, operation: str, method: str, template: str, status: int,
              content_type: str, body: Any) -> Finding | None:
        """The finding for one response, or None when the document allows it (or does not
        describe the operation at all)."""
        op = self._operations.get((method.upper(), _normal(template)))
        if op is None:
            return None
        responses = op.get("responses") or {}
        key = next((k for k in (str(status), f"{str(status)[0]}XX", "default")
                    if k in responses), None)
        if key is None:
            declared = ", ".join(sorted(responses)) or "none"
            return Finding(operation, method, template, status,
                           f"status {status} not declared (declared: {declared})",
                           body=excerpt(body))
        content = (self._resolve(responses[key]) or {}).get("content") or {}
        media = content_type.split(";")[0].strip().lower()
        if not content:
            return None
        declared_media = _media_key(content, media)
        if declared_media is None:
            return Finding(operation, method, template, status,
                           f"content type {media or '(none)'} not declared (declared: "
                           f"{', '.join(sorted(content))})", body=excerpt(body))
        if not _is_json(media):
            return None
        schema = (content[declared_media] or {}).get("schema")
        if schema is None:
            return None
        return self._validate(operation, method, template, status, (key, declared_media), body)

    def _resolve(self, item: Any) -> Any:
        """Follow a local ``$ref`` (responses may be references to components)."""
        seen = 0
        while isinstance(item, dict) and "$ref" in item and seen < 10:
            item = _pointer(self.document, item["$ref"])
            seen += 1
        return item

    def _validate(self, operation: str, method: str, template: str, status: int,
                  where: tuple[str, str], body: Any) -> Finding | None:
        validator = self._validator(method, template, where)
        error = _best_error(validator, body)
        if error is None:
            return None
        location = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]"
                                 for p in error.absolute_path)
        schema_path = "/".join(str(p) for p in error.absolute_schema_path)
        return Finding(operation, method, template, status,
                       f"body breaks its schema: {location}: {error.message[:160]}",
                       schema_path=f"responses/{where[0]}/{where[1]}/schema/{schema_path}",
                       body=excerpt(body))

    def _validator(self, method: str, template: str, where: tuple[str, str]) -> Any:
        cache_key = (method.upper(), _normal(template), "|".join(where))
        with self._lock:
            found = self._validators.get(cache_key)
            if found is None:
                found = self._validators[cache_key] = self._compile(method, template, where)
            return found

    def _compile(self, method: str, template: str, where: tuple[str, str]) -> Any:
        from openapi_schema_validator import OAS30Validator, OAS31Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        path = next(p for p, item in self.document["paths"].items()
                    if _normal(p) == _normal(template) and method.lower() in (item or {}))
        pointer = "/".join(_escape(s) for s in ("paths", path, method.lower(), "responses",
                                                where[0]))
        item = _pointer(self.document, "#/" + pointer)
        for _ in range(10):  # the response may be a reference to components/responses
            if not (isinstance(item, dict) and "$ref" in item):
                break
            pointer = item["$ref"][2:]
            item = _pointer(self.document, item["$ref"])
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        cls = OAS30Validator if self.openapi_version.startswith("3.0") else OAS31Validator
        root = {"$ref": f"{SPEC_URI}#/{pointer}/content/{_escape(where[1])}/schema"}
        return cls(root, registry=registry)


def _best_error(validator: Any, body: Any) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(validator.iter_errors(body))


def _normal(template: str) -> str:
    """A path template with every parameter name erased (``/a/{id}`` == ``/a/{task_id}``)."""
    return _PARAM.sub("{}", template.rstrip("/") or "/")


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _pointer(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise KeyError(f"only local references are followed, not {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _media_key(content: dict[str, Any], media: str) -> str | None:
    for key in (media, f"{media.split('/')[0]}/*", "*/*"):
        if key in content:
            return key
    if not _is_json(media):
        return None
    return next((k for k in content if _is_json(k.lower())), None)  # JSON variants agree


@dataclass(frozen=True)
class ContractSource:
    """Where the contract came from, or why there is none (said once per session)."""

    contract: Contract | None
    note: str


def load_contract(api_url: str, openapi_url: str | None = None, timeout_s: float = 10.0
                  ) -> ContractSource:
    """Read and validate the target's OpenAPI document; none found: profile contract only."""
    import httpx

    url = openapi_url or api_url.rstrip("/") + "/openapi.json"
    if url.startswith("/"):
        url = api_url.rstrip("/") + url
    try:
        response = httpx.get(url, timeout=timeout_s, trust_env=False)
    except httpx.HTTPError as exc:
        return ContractSource(None, f"no OpenAPI document at {url} ({type(exc).__name__}): "
                              "profile contract only")
    if response.status_code != 200:
        return ContractSource(None, f"no OpenAPI document at {url} (HTTP "
                              f"{response.status_code}): profile contract only")
    return _parse(url, response.text)


def _parse(url: str, text: str) -> ContractSource:
    import json

    import yaml

    try:
        document = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            document = None
    if not isinstance(document, dict) or "paths" not in document:
        return ContractSource(None, f"{url} is not an OpenAPI document: profile contract only")
    problem = document_problem(document)
    if problem:
        return ContractSource(None, f"{url}: invalid OpenAPI document ({problem}): profile "
                              "contract only")
    contract = Contract(document, url)
    return ContractSource(contract, f"OpenAPI {contract.openapi_version} {contract.title!r} "
                          f"{contract.version} from {url}")


def document_problem(document: dict[str, Any]) -> str | None:
    """None when openapi-spec-validator accepts the document, else its first error."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate(document)
    except OpenAPIValidationError as exc:
        return str(exc).splitlines()[0][:200]
    except Exception as exc:  # an unsupported version or a broken $ref
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return None


def raise_finding(finding: Finding) -> None:
    """Fail with a contract finding."""
    raise ContractViolation(str(finding))
