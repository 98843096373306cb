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


def _scrape(client, settings) -> str:
    settings.PORTAL_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def _value(text: str, name: str, **labels) -> float:
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")) and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_metrics_report_celery_queue_depth_from_the_redis_broker(client, settings):
    import redis

    from portal.metrics import queue_names

    assert {"interactive", "bulk", "sync", "celery"} <= set(queue_names())
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = ["bulk", "sync", "sync\x06\x163"]
    broker.delete(*keys)
    try:
        broker.lpush("bulk", "a", "b", "c")
        broker.lpush("sync", "a")
        broker.lpush("sync\x06\x163", "b")  # kombu's list of priority-3 messages of `sync`
        text = _scrape(client, settings)
    finally:
        broker.delete(*keys)
    assert _value(text, "portal_celery_queue_length", queue="bulk") == 3
    assert _value(text, "portal_celery_queue_length", queue="sync") == 2
    assert _value(text, "portal_celery_queue_length", queue="interactive") == 0
    assert _value(text, "portal_celery_queue_length_readable") == 1
    assert "portal_celery_unacked_tasks " in text


def test_metrics_without_a_redis_broker_report_no_depth_and_do_not_fail(client, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    text = _scrape(client, settings)
    assert _value(text, "portal_celery_queue_length_readable") == 0
    assert "portal_celery_queue_length{" not in text
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens: reported unreadable, scrape still 200
    text = _scrape(client, settings)
    assert _value(text, "portal_celery_queue_length_readable") == 0
    assert "portal_metrics_collector_errors{" not in text


def test_metrics_report_each_credentials_rate_budget_use(client, settings):
    from ncm_sync.models import SyncState
    from ncm_sync.ratebudget import RateBudget, budget_key_for_secrets
    from tests.factories import make_credential, secret_values

    org = make_org("Budget MSP")
    busy, idle = make_tenant(org, "Busy"), make_tenant(org, "Idle")
    busy_credential = make_credential(busy, secrets=secret_values("busy"))
    make_credential(idle, secrets=secret_values("idle"))
    SyncState.objects.create(tenant=busy, rate_limit_per_minute=5)
    budget = RateBudget(key=budget_key_for_secrets(secret_values("busy")), limit=5)
    assert [budget.try_acquire() for _ in range(5)] == [0.0] * 5
    assert budget.try_acquire() > 0  # exhausted: the caller waits, and that is counted
    text = _scrape(client, settings)
    assert _value(text, "portal_ncm_rate_budget_used_calls", tenant="busy", credential=busy_credential.pk) == 5
    assert _value(text, "portal_ncm_rate_budget_limit_calls", tenant="busy") == 5
    assert _value(text, "portal_ncm_rate_budget_exhausted_total", tenant="busy") == 1
    assert _value(text, "portal_ncm_rate_budget_used_calls", tenant="idle") == 0
    assert _value(text, "portal_ncm_rate_budget_limit_calls", tenant="idle") == settings.NCM_RATE_LIMIT_PER_MINUTE
    assert "tsecret" not in text and secret_values("busy")["cp_api_id"] not in text


def test_metrics_report_sync_duration_calls_and_failures(client, settings):
    from ncm_sync.models import SyncRun

    org = make_org("Runs MSP")
    tenant = make_tenant(org, "Runner", sync_status="failed")
    now = timezone.now()
    for seconds, calls in ((30, 100), (90, 250)):
        SyncRun.objects.create(tenant=tenant, status="succeeded", started_at=now - timedelta(seconds=seconds + 5),
                               finished_at=now - timedelta(seconds=5), api_calls=calls)
    text = _scrape(client, settings)
    assert _value(text, "portal_tenant_sync_api_calls_last_hour", tenant="runner") == 350
    assert _value(text, "portal_tenant_sync_duration_seconds_max_last_hour", tenant="runner") == 90
    assert _value(text, "portal_sync_duration_seconds_last_hour", stat="count") == 2
    assert _value(text, "portal_sync_duration_seconds_last_hour", stat="sum") == 120
    assert _value(text, "portal_sync_api_calls_last_hour") == 350
    assert _value(text, "portal_tenant_sync_failed", tenant="runner") == 1
    assert _value(text, "portal_sync_runs_last_hour", status="succeeded") == 2


def test_metrics_report_webhook_failures_and_alert_push_receipts(client, settings):
    from webhooks.models import AlertPushReceiver, Webhook, WebhookDelivery

    org = make_org("Hooks MSP")
    tenant = make_tenant(org, "Pushed")
    failing = Webhook.objects.create(organization=org, url="https://example.com/a", events=["alert.created"],
                                     secret_encrypted="x", consecutive_failures=3)
    Webhook.objects.create(organization=org, url="https://example.com/b", events=["alert.created"], secret_encrypted="x",
                           enabled=False, consecutive_failures=20, disabled_reason="20 failures")
    WebhookDelivery.objects.create(webhook=failing, event="alert.created", msg_id="msg_1", payload={}, status="failed")
    AlertPushReceiver.objects.create(tenant=tenant, token_hash="h" * 64, secret_encrypted="x", received_count=7,
                                     rejected_count=2, last_received_at=timezone.now())
    text = _scrape(client, settings)
    assert _value(text, "portal_webhook_subscriptions_disabled") == 1
    assert _value(text, "portal_webhook_subscriptions_failing") == 1
    assert _value(text, "portal_webhook_subscriptions_disabled_by_failures") == 1
    assert _value(text, "portal_webhook_subscription_consecutive_failures_max") == 3
    assert _value(text, "portal_webhook_deliveries_failed_last_hour") == 1
    assert _value(text, "portal_webhook_deliveries", status="failed") == 1
    assert _value(text, "portal_alert_push_received_total", tenant="pushed") == 7
    assert _value(text, "portal_alert_push_rejected_total", tenant="pushed") == 2
    assert _value(text, "portal_alert_push_last_received_timestamp_seconds", tenant="pushed") > 0


def test_metrics_scrape_costs_the_same_queries_at_any_fleet_size(client, settings, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ncm_sync.models import SyncRun
    from tests.factories import make_credential

    def add_tenants(n):
        org = make_org()
        for _ in range(n):
            tenant = make_tenant(org)
            make_credential(tenant)
            SyncRun.objects.create(tenant=tenant, status="succeeded", started_at=timezone.now(), finished_at=timezone.now())

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            _scrape(client, settings)
        return len(ctx.captured_queries)

    add_tenants(2)
    small = queries()
    add_tenants(20)
    assert queries() == small
