"""A per-tenant cap on job items in flight, shared by all workers through the cache (Redis in production).

One MSP's 5,000-router job then cannot take every worker: each tenant holds at most `limit` slots at once.
Slots are cache keys added atomically (SET NX) with a TTL, so a crashed worker's slot frees itself.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.core.cache import cache

__all__ = ["TenantSlots"]


class TenantSlots:
    def __init__(self, tenant_id: int, limit: int | None = None, ttl: int = 120):
        self.tenant_id = tenant_id
        self.limit = limit or getattr(settings, "JOBS_MAX_IN_FLIGHT_PER_TENANT", 8)
        self.ttl = ttl

    def _key(self, index: int) -> str:
        return f"jobs:slot:{self.tenant_id}:{index}"

    def acquire(self) -> str | None:
        token = uuid.uuid4().hex
        for index in range(self.limit):
            key = self._key(index)
            if cache.add(key, token, self.ttl):
                return key
        return None

    def release(self, key: str) -> None:
        cache.delete(key)

    def in_use(self) -> int:
        return sum(1 for index in range(self.limit) if cache.get(self._key(index)) is not None)
