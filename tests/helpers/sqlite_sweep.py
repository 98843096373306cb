"""Run as `python -m tests.helpers.sqlite_sweep` with DATABASE_URL=sqlite:///… (the demo's database): a job's
start task fails with SQLite's own `database is locked`, then the sweep finishes the job. Prints JSON facts.

Used by tests/jobs/test_sweep.py::test_on_sqlite_a_start_task_failing_on_a_locked_database_is_finished_by_the_sweep.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import django


def main() -> None:
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    connection.close()
    connection.settings_dict["OPTIONS"]["timeout"] = 0.2  # the demo waits 30 s for the lock; not this test
    from accounts.models import Organization, Tenant
    from jobs.models import Job
    from jobs.sweep import sweep_jobs
    from jobs.tasks import start_job_task

    org = Organization.objects.create(name="o", slug="o")
    tenant = Tenant.objects.create(organization=org, name="t", slug="t")
    job = Job.objects.create(tenant=tenant, kind="reboot", status="pending", counts={"total": 0})
    facts = {"vendor": connection.vendor}

    other = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (web, beat) is writing
    result = start_job_task.apply(args=[job.pk])  # the real task, in this process
    facts["task_failed"] = result.failed()
    facts["task_error"] = repr(result.result)
    facts["sweep_while_locked"] = sweep_jobs()  # the database is still locked: the sweep survives it
    other.execute("ROLLBACK")
    other.close()
    job.refresh_from_db()
    facts["status_after_task"] = job.status

    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=settings.JOBS_START_GRACE_SECONDS + 1))
    facts["sweep"] = sweep_jobs()
    job.refresh_from_db()
    facts["status"] = job.status
    facts["finished"] = job.finished_at is not None
    facts["log"] = list(job.log.values_list("message", flat=True))
    print(json.dumps(facts, default=str))


if __name__ == "__main__":
    main()
