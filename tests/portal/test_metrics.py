"""/metrics: Prometheus text behind the operator's bearer token (contract §2, §4); 404 for anyone else."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, JobItem
from tests.factories import make_org, make_tenant, make_user, make_token

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


def test_metrics_answer_only_the_bearer_token(client, settings):
    settings.PORTAL_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404  # not configured
    settings.PORTAL_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    # A user's session or API token is not the operator's metrics token.
    user = make_user()
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {make_token(user)}").status_code == 404
    client.force_login(user)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_report_sync_lag_jobs_and_webhooks(client, settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    org = make_org("Metrics MSP")
    late = make_tenant(org, "Late Customer", next_sync_at=timezone.now() - timedelta(minutes=10),
                       last_synced_at=timezone.now() - timedelta(minutes=25))
    make_tenant(org, "Fresh Customer", next_sync_at=timezone.now() + timedelta(minutes=5))
    job = Job.objects.create(tenant=late, kind="reboot", status="running", counts={"total": 2})
    JobItem.objects.create(job=job, tenant=late, status="unknown")
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    lag = next(line for line in text.splitlines()
               if line.startswith("portal_tenant_sync_lag_seconds") and 'tenant="late-customer"' in line)
    assert 590 <= float(lag.rsplit(" ", 1)[1]) <= 700
    assert 'portal_tenant_sync_lag_seconds{organization="metrics-msp",tenant="fresh-customer"} 0.0' in text
    assert 'portal_tenant_last_sync_timestamp_seconds{organization="metrics-msp",tenant="late-customer"}' in text
    assert 'portal_jobs{kind="reboot",status="running"} 1.0' in text
    assert 'portal_job_items{status="unknown"} 1.0' in text
    assert "portal_webhook_subscriptions_disabled 0.0" in text
    assert "portal_sync_dispatcher_last_run_timestamp_seconds" in text
    assert "portal_metrics_collector_errors" in text and "portal_metrics_collector_errors{" not in text
