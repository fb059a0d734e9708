"""The OpenAPI contract helper: findings for undeclared statuses and schema breaks, nothing for
what the document allows; OpenAPI 3.0 (nullable) and 3.1; a missing or invalid document."""

from __future__ import annotations

import copy
import http.server
import json
import threading

import pytest

from prsm_validate.client.openapi import Contract, document_problem, load_contract

DOC = {
    "openapi": "3.1.0", "info": {"title": "T", "version": "9"},
    "paths": {
        "/items/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": True,
                                                "schema": {"type": "string"}}], "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Item"}}}},
            "4XX": {"$ref": "#/components/responses/Problem"}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "text", "content": {
            "text/plain": {}}}}}},
    },
    "components": {
        "schemas": {"Item": {"type": "object", "required": ["id", "count"], "properties": {
            "id": {"type": "string"}, "count": {"type": "integer"},
            "note": {"type": ["string", "null"]}}}},
        "responses": {"Problem": {"description": "error", "content": {"application/json": {
            "schema": {"type": "object", "required": ["detail"]}}}}},
    },
}


def check(contract, status, body, template="/items/{item_id}", media="application/json"):
    return contract.check("item", "GET", template, status, media, body)


def test_allowed_responses_give_no_finding():
    contract = Contract(DOC, "u")
    assert check(contract, 200, {"id": "a", "count": 1, "note": None}) is None
    assert check(contract, 404, {"detail": "no"}) is None  # 4XX, through a $ref
    assert check(contract, 200, "x", "/metrics", "text/plain") is None
    assert check(contract, 200, {"whatever": 1}, "/not/in/doc") is None  # not described


def test_schema_break_names_operation_status_path_and_body():
    finding = check(Contract(DOC, "u"), 200, {"id": "a", "count": "three"})
    assert finding is not None
    text = str(finding)
    assert "item (GET /items/{item_id}) HTTP 200" in text
    assert "$['count']" in text and "integer" in text
    assert "responses/200/application/json/schema" in text
    assert '"count": "three"' in text


def test_undeclared_status_and_media_type_are_findings():
    contract = Contract(DOC, "u")
    assert "status 500 not declared" not in str(check(contract, 302, {}))
    assert "status 302 not declared (declared: 200, 4XX)" in str(check(contract, 302, {}))
    wrong = check(contract, 200, "<item/>", media="application/xml")
    assert "content type application/xml not declared (declared: application/json)" in str(
        wrong)
    assert check(contract, 200, {"id": "a", "count": 1}, media="application/problem+json") \
        is None  # a JSON variant of the declared type


def test_openapi_30_nullable_is_understood():
    doc = copy.deepcopy(DOC)
    doc["openapi"] = "3.0.3"
    doc["components"]["schemas"]["Item"]["properties"]["note"] = {"type": "string",
                                                                  "nullable": True}
    contract = Contract(doc, "u")
    assert check(contract, 200, {"id": "a", "count": 1, "note": None}) is None
    assert check(contract, 200, {"id": "a", "count": 1, "note": 5}) is not None


def test_document_problems_are_reported():
    assert document_problem(DOC) is None
    broken = copy.deepcopy(DOC)
    del broken["info"]
    assert document_problem(broken)


@pytest.fixture
def serve():
    servers = []

    def start(status: int, body: bytes):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(status)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_load_contract_found_missing_and_invalid(serve):
    found = load_contract(serve(200, json.dumps(DOC).encode()))
    assert found.contract is not None and "OpenAPI 3.1.0 'T' 9" in found.note
    missing = load_contract(serve(404, b"{}"))
    assert missing.contract is None and "HTTP 404" in missing.note
    assert "profile contract only" in missing.note
    bad = copy.deepcopy(DOC)
    del bad["info"]
    invalid = load_contract(serve(200, json.dumps(bad).encode()))
    assert invalid.contract is None and "invalid OpenAPI document" in invalid.note
