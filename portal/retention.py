"""Retention: old operational rows are pruned in small batches, so no table is ever locked for long.

Each app prunes its own rows with `delete_in_batches` (sync runs, finished jobs with their items, webhook
deliveries, audit events), from a daily beat task. Retention in days is set per kind in
settings.RETENTION_DAYS (env `RETENTION_<KIND>_DAYS`); 0 keeps rows forever.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

__all__ = ["retention_cutoff", "delete_in_batches"]


def retention_cutoff(kind: str, now: datetime | None = None) -> datetime | None:
    """Rows of `kind` older than this are pruned (None: kept forever)."""
    days = int(settings.RETENTION_DAYS.get(kind, 0))
    return (now or timezone.now()) - timedelta(days=days) if days > 0 else None


def delete_in_batches(queryset, *, batch_size: int | None = None) -> int:
    """Delete the rows of `queryset`, `batch_size` primary keys per short transaction. Returns rows deleted
    (cascades not counted)."""
    batch_size = batch_size or int(getattr(settings, "RETENTION_BATCH_SIZE", 1000))
    model, deleted = queryset.model, 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            model._base_manager.filter(pk__in=ids).delete()
        deleted += len(ids)
