"""LOG_FORMAT=json: one JSON object a line, carrying the request id, user, tenant, task, job and sync run ids."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from portal.logcontext import bind_task_context, log_context, unbind_task_context
from tests.factories import make_org, make_tenant, make_user

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines():
    """The root logger writing through the settings' JSON formatter and filters, into a buffer."""
    from logging.config import DictConfigurator

    config = DictConfigurator({"version": 1})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(config.configure_formatter(dict(settings.LOGGING["formatters"]["json"])))
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        handler.addFilter(config.configure_filter(dict(settings.LOGGING["filters"][name])))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_settings_choose_json_when_log_format_is_json():
    """A process started with LOG_FORMAT=json prints JSON lines with the context's fields (secrets redacted)."""
    code = (
        "import django, logging; django.setup();"
        "from portal.logcontext import log_context;"
        "ctx = log_context(tenant_id=7, job_id=42); ctx.__enter__();"
        "logging.getLogger('portal.check').warning('job started password=%s', 'tsecret-hunter2')"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "portal.settings_test"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    record = next(line for line in lines if line.get("logger") == "portal.check")
    assert record["level"] == "WARNING" and record["tenant_id"] == 7 and record["job_id"] == 42
    assert record["message"].startswith("job started password=") and "tsecret" not in out.stderr
    assert "time" in record
    plain = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "LOG_FORMAT": "plain"},
                           capture_output=True, text=True, timeout=60)
    assert "WARNING portal.check job started" in plain.stderr and not plain.stderr.lstrip().startswith("{")


@pytest.mark.django_db
def test_request_records_carry_request_id_user_and_tenant(client, json_lines):
    org = make_org()
    tenant = make_tenant(org)
    user = make_user(org=org, role="org_admin")
    client.force_login(user)
    # A page under the tenant that does not exist: Django logs "Not Found" inside the request.
    response = client.get(f"/t/{tenant.pk}/routers/999999/", HTTP_X_REQUEST_ID="req-abc-123")
    assert response.status_code == 404
    records = [r for r in json_lines() if r.get("request_id") == "req-abc-123"]
    assert records, json_lines()
    assert records[-1]["tenant_id"] == tenant.pk and records[-1]["user_id"] == user.pk
    assert "request" not in records[-1]  # django.request's raw request object (its URL may hold a token)
    client.post("/hooks/ncm/tsecret-push-token-0123456789/", data=b"{}", content_type="application/json")
    assert "tsecret" not in json.dumps(json_lines())
    # Outside a request, no request's fields linger.
    logging.getLogger("portal.after").warning("after the request")
    after = next(r for r in json_lines() if r["logger"] == "portal.after")
    assert "request_id" not in after and "tenant_id" not in after


def test_task_records_carry_task_and_ids(json_lines):
    class FakeTask:
        name = "ncm_sync.tasks.sync_tenant_task"

        def run(self, run_id):
            pass

    bind_task_context(task_id="t-1", task=FakeTask(), args=(55,), kwargs={})
    logging.getLogger("portal.task").warning("inside")
    unbind_task_context(task_id="t-1")
    with log_context(job_id=9, tenant_id=3):
        logging.getLogger("portal.job").warning("job work")
    logging.getLogger("portal.none").warning("outside")
    records = {r["logger"]: r for r in json_lines()}
    task = records["portal.task"]
    assert task["task"] == "ncm_sync.tasks.sync_tenant_task" and task["task_id"] == "t-1" and task["sync_run_id"] == 55
    assert records["portal.job"]["job_id"] == 9 and records["portal.job"]["tenant_id"] == 3
    assert "task" not in records["portal.none"] and "job_id" not in records["portal.none"]
