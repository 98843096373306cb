"""A per-credential NCM call budget shared by every worker through Django's cache (Redis in production).

NCM allows about 500 calls a minute per API key pair (reference/ncm-sdk.md §2.1). Celery's `rate_limit` is per
worker, so the budget lives in the cache: the minute is cut into ten slots (`window / 10` seconds each) and a
call is admitted only if the calls counted in the current slot and the eleven before it (a span longer than any
60-second interval can straddle, with a slot to spare for calls in flight) stay within the limit. On Redis one
Lua script makes the whole admission atomically (on another cache, `cache.incr`), so several workers never
admit more than the limit between them; a caller over budget takes its increment back and sleeps until the
oldest slot leaves the span. Bursts up to the whole limit are allowed, so a sync of 110 pages runs at full
speed while a runaway loop is held to the limit.

The key is derived from the credential's API key ids (hashed), so two tenants using the same NCM keys share
one budget, and one tenant's traffic never spends another's.

If the cache is down the budget fails open (logged): a sync is more useful than a stuck worker, and NCM itself
answers 429, which the client honours.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ResponseError as RedisResponseError

logger = logging.getLogger(__name__)

SLOTS = 10

__all__ = ["RateBudget", "budget_key_for_secrets", "RateBudgetTimeout", "budget_cache", "budget_usage"]

_budget_cache = None


def budget_cache():
    """The cache holding the budgets: Django's default cache, or a Redis of its own when
    NCM_RATE_BUDGET_REDIS_URL is set (so budgets survive a flush of the main cache)."""
    global _budget_cache
    url = os.environ.get("NCM_RATE_BUDGET_REDIS_URL")
    if not url:
        return caches["default"]  # the backend itself (this thread's), not the `cache` proxy
    if _budget_cache is None:
        _budget_cache = RedisCache(url, {"KEY_PREFIX": "ncm-budget"})
    return _budget_cache


class RateBudgetTimeout(Exception):
    """Waited longer than `max_wait` for a token."""


def budget_key_for_secrets(secrets: dict) -> str:
    """A stable, non-reversible key for a credential's API key pair (never the secrets themselves)."""
    material = "\x00".join(str(secrets.get(name, "")) for name in ("cp_api_id", "ecm_api_id"))
    return hashlib.sha256(material.encode()).hexdigest()[:24]


@dataclass
class RateBudget:
    key: str
    limit: int = 0  # calls per window; 0 -> settings.NCM_RATE_LIMIT_PER_MINUTE
    window: float = 0  # seconds; 0 -> settings.NCM_RATE_WINDOW_SECONDS (60)
    max_wait: float = 600.0

    def __post_init__(self):
        self.limit = int(self.limit or settings.NCM_RATE_LIMIT_PER_MINUTE)
        self.window = float(
            self.window or getattr(settings, "NCM_RATE_WINDOW_SECONDS", None) or os.environ.get("NCM_RATE_WINDOW_SECONDS") or 60
        )
        self.slot = self.window / SLOTS
        self.waited = 0.0  # seconds spent waiting for tokens (reported by the sync run)
        self._lock = threading.Lock()

    def _slot_key(self, index: int) -> str:
        return f"ncm-budget:{self.key}:{int(self.window)}:{index}"

    def try_acquire(self) -> float:
        """Take a token if one is free: returns 0.0, or the seconds to wait before trying again."""
        store = budget_cache()
        now = time.time()
        index = int(now // self.slot)
        current = self._slot_key(index)
        ttl = int(self.window * 1.3) + 2
        # One slot more than a window: calls admitted at a slot's edge still arrive inside the span. The
        # next slot too: a worker whose clock already crossed into it must see ours, and we theirs.
        others = [i for i in range(index - SLOTS - 1, index + 2) if i != index]
        if isinstance(store, RedisCache) and not _scripts_refused:
            try:
                admitted = _admit_on_redis(store, current, [self._slot_key(i) for i in others], self.limit, ttl,
                                           _refused_key(self.key))
            except RedisResponseError:  # a Redis that runs no scripts (ACLs, some managed offers): the cache API
                logger.warning("Redis refused the rate budget's script; counting through the cache API", exc_info=True)
                _refuse_scripts()
            except Exception:  # cache unavailable: fail open, NCM's own 429s still apply
                logger.warning("NCM rate budget unavailable (cache error); admitting the call", exc_info=True)
                return 0.0
            else:
                return 0.0 if admitted else self._delay(index, now)
        try:
            store.add(current, 0, timeout=ttl)
            try:
                count = store.incr(current)
            except ValueError:  # the slot vanished between add and incr (expired or flushed): once more
                store.add(current, 0, timeout=ttl)
                count = store.incr(current)
            previous = store.get_many([self._slot_key(i) for i in others])
        except Exception:  # cache unavailable: fail open, NCM's own 429s still apply
            logger.warning("NCM rate budget unavailable (cache error); admitting the call", exc_info=True)
            return 0.0
        total = count + sum(int(v) for v in previous.values())
        if total <= self.limit:
            return 0.0
        try:
            store.decr(current)
            # For operators (/metrics): how often callers found this budget exhausted.
            store.add(_refused_key(self.key), 0, timeout=None)
            store.incr(_refused_key(self.key))
        except Exception:
            pass
        return self._delay(index, now)

    def _delay(self, index: int, now: float) -> float:
        # The oldest slot in the span leaves it at the start of the next slot.
        return max(0.01, (index + 1) * self.slot - now) + random.uniform(0, self.slot / 10)

    def acquire(self) -> None:
        """Block until a token is free (or `max_wait` passes)."""
        waited = 0.0
        while True:
            delay = self.try_acquire()
            if delay == 0.0:
                with self._lock:
                    self.waited += waited
                return
            if waited + delay > self.max_wait:
                raise RateBudgetTimeout(f"NCM rate budget: no free call within {self.max_wait:.0f}s")
            time.sleep(delay)
            waited += delay


# The whole admission in one atomic round trip: count the call in its slot (which expires a little after the
# span), add the other slots, and take the call back (counting the refusal) if that is over the limit. Through
# Django's cache API the same took six round trips and ~0.8 ms of the worker's CPU a call.
_ADMIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local total = count
for i = 3, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then total = total + tonumber(v) end
end
if total <= tonumber(ARGV[1]) then return 1 end
redis.call('DECR', KEYS[1])
redis.call('INCR', KEYS[2])
return 0
"""
_admit_script = None
_scripts_refused = False  # set once this process's Redis refused the script


def _refuse_scripts() -> None:
    global _scripts_refused
    _scripts_refused = True


def _admit_on_redis(store: RedisCache, current: str, others: list[str], limit: int, ttl: int, refused: str) -> bool:
    """Whether the call is admitted. Keys go through the cache's own key function (prefix, version; ours need
    no validation), and Django stores integers as plain Redis integers, so `budget_usage` reads these counters
    through the cache API."""
    global _admit_script
    backend = store._cache  # Django's Redis backend client; its get_client() builds a redis-py client per call
    client = getattr(backend, "budget_client", None)
    if client is None:
        client = backend.budget_client = backend.get_client(current, write=True)  # thread-safe, pooled
    if _admit_script is None:
        _admit_script = client.register_script(_ADMIT)
    keys = [store.make_key(name) for name in (current, refused, *others)]
    return bool(_admit_script(keys=keys, args=[limit, ttl], client=client))


def _refused_key(key: str) -> str:
    return f"ncm-budget-refused:{key}"


def budget_usage(keys, *, window: float = 0, now: float | None = None) -> dict[str, tuple[int, int]]:
    """For /metrics: per budget key, (calls admitted in the last window, times a caller found it exhausted).

    One round trip to the cache for all keys, whatever the number of credentials."""
    window = float(window or getattr(settings, "NCM_RATE_WINDOW_SECONDS", None) or os.environ.get("NCM_RATE_WINDOW_SECONDS") or 60)
    slot = window / SLOTS
    index = int((now or time.time()) // slot)
    keys = list(dict.fromkeys(keys))
    names = {}
    for key in keys:
        for i in range(index - SLOTS + 1, index + 1):
            names[f"ncm-budget:{key}:{int(window)}:{i}"] = key
        names[_refused_key(key)] = key
    values = budget_cache().get_many(list(names))
    out = {key: [0, 0] for key in keys}
    for name, value in values.items():
        out[names[name]][1 if name.startswith("ncm-budget-refused:") else 0] += int(value or 0)
    return {key: (used, refused) for key, (used, refused) in out.items()}
