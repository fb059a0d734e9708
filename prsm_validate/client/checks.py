"""Checks scenarios share, judged by the target's own vocabulary; each failure is one line of
the right class (:mod:`prsm_validate.errors`)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from prsm_validate.client.api import ApiClient, Response
from prsm_validate.client.profiles import TaskTemplate, error_shape
from prsm_validate.errors import ContractViolation, excerpt

TRACE_MARKS = ("Traceback (most recent call last)", 'File "')


def error_body(response: Response, api: ApiClient) -> None:
    """The error response has a structured body in one of the target's declared shapes and
    no stack trace."""
    shapes = api.api.vocabulary.error_body
    shape = error_shape(response.body)
    text = response.body if isinstance(response.body, str) else repr(response.body)
    if any(mark in text for mark in TRACE_MARKS):
        raise ContractViolation(f"{response.operation}: HTTP {response.status} shows a stack "
                                f"trace: {excerpt(response.body)}")
    if shape not in shapes:
        raise ContractViolation(
            f"{response.operation}: HTTP {response.status} error body is "
            f"{shape or 'unstructured'}, expected {' or '.join(shapes)}; body: "
            f"{excerpt(response.body)}")


def task_template(api: ApiClient, role: str) -> TaskTemplate:
    """The target's task of ``role`` (quick, long); skips naming the vocabulary key."""
    template = api.api.vocabulary.task_types.get(role)
    if template is None:
        pytest.skip(f"profile {api.profile} declares no vocabulary.task_types.{role} (a task "
                    f"{'that finishes at once' if role == 'quick' else 'that runs for seconds'})")
    return template


def llm_model(api: ApiClient) -> str:
    """The model to ask for; skips naming the vocabulary key when the target names none."""
    model = api.api.vocabulary.llm_model
    if model is None:
        pytest.skip(f"profile {api.profile} declares no vocabulary.llm_model")
    return model


def task_status(api: ApiClient, task_id: str) -> dict[str, Any]:
    """The task's status body; its ``status`` must be a name of the vocabulary."""
    body = api.call("task_status", task_id=task_id).expect(200).body
    if api.api.vocabulary.role_of(body["status"]) is None:
        known = sorted(api.api.vocabulary.statuses(*api.api.vocabulary.task_status))
        raise ContractViolation(f"task_status: status {body['status']!r} is not in the "
                                f"vocabulary {known}; body: {excerpt(body)}")
    return body


def wait_task(api: ApiClient, task_id: str, roles: set[str], timeout_s: float = 15.0,
              interval_s: float = 0.05) -> dict[str, Any]:
    """Poll the task until its status has one of ``roles`` (queued, running, done, failed,
    cancelled); fail naming the task, the roles and its last status."""
    deadline, body = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        body = task_status(api, task_id)
        if api.api.vocabulary.role_of(body["status"]) in roles:
            return body
        time.sleep(interval_s)
    raise ContractViolation(f"task {task_id} not {'/'.join(sorted(roles))} within "
                            f"{timeout_s:g} s; last: {excerpt(body)}")
