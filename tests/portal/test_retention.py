"""Retention (issue 18): each app prunes its rows past settings.RETENTION_DAYS in batches; active work and
recent rows stay; audit events are kept longest."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent
from jobs.models import Job, JobItem, JobLogEntry
from ncm_sync.models import SyncRun
from webhooks.models import WebhookDelivery
from tests.factories import make_org, make_tenant
from tests.webhooks.specs import _webhook

pytestmark = pytest.mark.django_db


def _age(queryset, days: int) -> None:
    queryset.update(created_at=timezone.now() - timedelta(days=days))


def test_sync_runs_past_retention_go_in_batches_active_ones_stay(settings):
    from ncm_sync.services.runs import prune_sync_runs

    settings.RETENTION_BATCH_SIZE = 2
    tenant = make_tenant(make_org())
    old = [SyncRun.objects.create(tenant=tenant, status="succeeded").pk for _ in range(5)]
    stuck = SyncRun.objects.create(tenant=tenant, status="failed")
    _age(SyncRun.objects.filter(pk__in=old + [stuck.pk]), 40)
    recent = SyncRun.objects.create(tenant=tenant, status="succeeded")
    with CaptureQueriesContext(connection) as ctx:
        assert prune_sync_runs() == 6
    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('DELETE FROM "ncm_sync_syncrun"')]
    assert len(deletes) == 3  # 6 rows, 2 per batch
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [recent.pk]


def test_finished_jobs_go_with_their_items_running_ones_stay():
    from jobs.services import prune_jobs

    tenant = make_tenant(make_org())
    done = Job.objects.create(tenant=tenant, kind="reboot", status="succeeded", counts={"total": 1},
                              finished_at=timezone.now() - timedelta(days=200))
    JobItem.objects.create(job=done, tenant=tenant, status="succeeded")
    JobLogEntry.objects.create(job=done, tenant=tenant, message="Finished")
    running = Job.objects.create(tenant=tenant, kind="reboot", status="running", counts={"total": 1})
    _age(Job.objects.all(), 200)
    assert prune_jobs() == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [running.pk]
    assert not JobItem.objects.filter(job_id=done.pk).exists() and not JobLogEntry.objects.filter(job_id=done.pk).exists()


def test_settled_webhook_deliveries_go_pending_ones_stay():
    from webhooks.services import prune_deliveries

    tenant = make_tenant(make_org())
    webhook = _webhook(tenant)
    settled = WebhookDelivery.objects.create(webhook=webhook, tenant=tenant, event="sync.failed", msg_id="msg_old",
                                             payload={}, status="succeeded")
    pending = WebhookDelivery.objects.create(webhook=webhook, tenant=tenant, event="sync.failed", msg_id="msg_wait",
                                             payload={}, status="retrying")
    _age(WebhookDelivery.objects.all(), 60)
    assert prune_deliveries() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [pending.pk]
    assert settled.pk not in set(WebhookDelivery.objects.values_list("pk", flat=True))


def test_audit_events_are_kept_longest(settings):
    from accounts.services import prune_audit_events

    tenant = make_tenant(make_org())
    old, kept = (AuditEvent.objects.create(tenant=tenant, action="update", object_type="accounts.tenant", object_id="1")
                 for _ in range(2))
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=800))
    AuditEvent.objects.filter(pk=kept.pk).update(created_at=timezone.now() - timedelta(days=400))
    assert settings.RETENTION_DAYS["audit_events"] > max(v for k, v in settings.RETENTION_DAYS.items() if k != "audit_events")
    assert prune_audit_events() == 1
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [kept.pk]
    settings.RETENTION_DAYS = {**settings.RETENTION_DAYS, "audit_events": 0}  # 0 keeps forever
    AuditEvent.objects.filter(pk=kept.pk).update(created_at=timezone.now() - timedelta(days=5000))
    assert prune_audit_events() == 0


def test_beat_runs_every_prune_daily():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"ncm_sync.tasks.prune_sync_runs_task", "jobs.tasks.prune_jobs_task", "webhooks.tasks.prune_deliveries_task",
            "accounts.tasks.prune_audit_events_task"} <= tasks
    from celery import current_app

    for name in tasks:
        assert name in current_app.tasks, name  # registered, so beat's messages find a task
