"""Heartbeats for long-running work (sync runs, job drainers, job items).

`Heartbeat(queryset, every=, values=)` is a context manager: while its block runs, a daemon thread updates the
rows of `queryset` with `values()` (e.g. `{"heartbeat_at": now}` or `{"lease_until": now + lease}`) every
`every` seconds. A row that stopped beating has lost its worker (SIGKILL, OOM, power): whoever sweeps may
fail or resume it, however long the task's time limit. The thread uses its own database connection and
closes it when the block ends.

`Heartbeat.lost` turns true when an update matched no row (the row was settled or reaped meanwhile).
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)

__all__ = ["Heartbeat", "lease_from_now"]


def lease_from_now(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


class Heartbeat:
    def __init__(self, queryset, *, every: float, values, beat_now: bool = True):
        self.queryset, self.every, self.values = queryset, float(every), values
        self.beat_now = beat_now
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> int:
        updated = self.queryset.update(**self.values())
        if not updated:
            self.lost = True
        return updated

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    self.beat()
                except Exception:  # noqa: BLE001 - a missed beat is retried; the lease covers several
                    logger.warning("heartbeat of %s failed", self.queryset.model.__name__, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    def __enter__(self) -> "Heartbeat":
        if self.beat_now:
            self.beat()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.every))
