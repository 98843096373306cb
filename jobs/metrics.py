"""Prometheus figures of jobs (portal/metrics.py): jobs and items by status."""
from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from jobs.models import Job, JobItem


def collect():
    jobs = GaugeMetricFamily("portal_jobs", "Jobs by kind and status.", labels=["kind", "status"])
    for row in Job.objects.values("kind", "status").annotate(n=Count("id")):
        jobs.add_metric([row["kind"], row["status"]], row["n"])
    yield jobs
    items = GaugeMetricFamily("portal_job_items", "Job items (one per device) by status.", labels=["status"])
    for row in JobItem.objects.values("status").annotate(n=Count("id")):
        items.add_metric([row["status"]], row["n"])
    yield items
