"""Beat entries are declared once (settings.CELERY_BEAT_SCHEDULE): a portal started with `migrate` and one
`celery beat` dispatches syncs, with no management command; /readyz says when no dispatcher ran lately."""
from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ncm_sync.services import dispatch_due_syncs
from ncm_sync.services.runs import DISPATCHER_LAST_RUN_KEY


@pytest.mark.django_db(transaction=True)  # the scheduler closes and reopens database connections
def test_beat_schedules_the_dispatcher_with_no_management_command(settings):
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from portal.celery import app

    assert not PeriodicTask.objects.filter(task="ncm_sync.tasks.dispatch_due_syncs").exists()  # just migrated
    with pytest.raises(CommandError):
        call_command("setup_periodic_tasks")  # there is no second place that declares beat entries
    scheduler = DatabaseScheduler(app=app)  # what `celery -A portal beat` builds at start
    by_task = {entry.task: entry for entry in scheduler.schedule.values()}
    for task in ("ncm_sync.tasks.dispatch_due_syncs", "jobs.tasks.resume_stalled_jobs_task",
                 "webhooks.tasks.dispatch_due_webhook_deliveries"):
        assert task in by_task, sorted(by_task)
    dispatcher = PeriodicTask.objects.get(task="ncm_sync.tasks.dispatch_due_syncs")
    assert dispatcher.enabled and dispatcher.interval.every <= 60 and dispatcher.interval.period == "seconds"
    # Queues are declared once, in the routes: the dispatcher goes to one the deployed worker consumes, never
    # behind a backlog of syncs; syncs to `sync`.
    assert not dispatcher.queue
    assert not any(entry.get("options", {}).get("queue") for entry in settings.CELERY_BEAT_SCHEDULE.values())
    assert app.amqp.router.route({}, "ncm_sync.tasks.dispatch_due_syncs")["queue"].name == "interactive"
    assert app.amqp.router.route({}, "jobs.tasks.resume_stalled_jobs_task")["queue"].name == "interactive"
    assert app.amqp.router.route({}, "ncm_sync.tasks.sync_tenant_task")["queue"].name == "sync"
    DatabaseScheduler(app=app)  # a restarted beat installs nothing twice
    assert PeriodicTask.objects.filter(task="ncm_sync.tasks.dispatch_due_syncs").count() == 1


@pytest.mark.django_db
def test_readyz_says_when_no_dispatcher_ran_lately(client, settings):
    settings.SYNC_DISPATCHER_STALE_SECONDS = 300
    cache.delete(DISPATCHER_LAST_RUN_KEY)
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["sync_dispatcher"]["stale"] is True and body["sync_dispatcher"]["last_run_at"] is None
    assert "beat" in body["sync_dispatcher"]["warning"]

    with mock.patch("ncm_sync.services.runs._enqueue"):
        dispatch_due_syncs()
    body = client.get("/readyz").json()
    assert body["sync_dispatcher"]["stale"] is False and "warning" not in body["sync_dispatcher"]
    assert body["sync_dispatcher"]["last_run_at"]

    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=301)):
        body = client.get("/readyz").json()
    assert body["sync_dispatcher"]["stale"] is True and "5 minutes" in body["sync_dispatcher"]["warning"]
