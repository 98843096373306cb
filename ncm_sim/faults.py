"""Fault injection: rate limits, flaky 5xx, latency and ambiguous writes.

All randomness comes from one seeded ``random.Random`` behind a lock, so a given
sequence of requests meets the same faults on every run (with concurrent clients the
interleaving, not the RNG, decides who gets which draw).
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass


@dataclass
class FaultConfig:
    rate_429: float = 0.0             # share of API calls answered 429
    retry_after: int | None = 1       # Retry-After seconds on those 429s (None: no header)
    rate_5xx: float = 0.0             # share of API calls answered with a 5xx from status_5xx
    status_5xx: tuple = (500, 502, 503, 504)
    latency_ms: int = 0               # added to every API call
    ambiguous_write_rate: float = 0.0  # share of successful writes applied but answered 502
    endpoints: list | None = None     # only calls whose key starts with one of these (e.g. "GET routers")
    seed: int | None = None


@dataclass
class _Scripted:
    status: int
    remaining: int
    retry_after: int | None = None
    endpoint: str | None = None
    applied: bool = False  # for writes: apply first, then answer `status` (ambiguous)
    after: int = 0         # let this many matching calls through first


class Faults:
    """Thread-safe, seeded fault decisions for one simulator."""

    def __init__(self, **config):
        self._lock = threading.Lock()
        self.config = FaultConfig()
        self._rng = random.Random("faults:None")
        self._scripted: list[_Scripted] = []
        self.configure(**config)

    def configure(self, **changes) -> dict:
        """Change any :class:`FaultConfig` field; ``seed`` re-seeds the RNG."""
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self.config, key):
                    raise TypeError(f"unknown fault setting {key!r}")
                if key == "status_5xx" and value is not None:
                    value = tuple(int(v) for v in value)
                setattr(self.config, key, value)
            if "seed" in changes:
                self._rng = random.Random(f"faults:{self.config.seed}")
            return self.snapshot_unlocked()

    def snapshot_unlocked(self) -> dict:
        data = asdict(self.config)
        data["status_5xx"] = list(data["status_5xx"])
        data["scripted"] = [asdict(s) for s in self._scripted]
        return data

    def snapshot(self) -> dict:
        with self._lock:
            return self.snapshot_unlocked()

    def fail_next(self, count: int = 1, status: int = 500, retry_after: int | None = None,
                  endpoint: str | None = None, applied: bool = False, after: int = 0) -> None:
        """Answer the next *count* matching calls with *status* (deterministic faults).

        *endpoint* is a call-key prefix (``"GET routers"``); *after* lets that many matching
        calls through first (e.g. ``after=1`` fails page 2). With ``applied=True`` a matching
        write is applied before the error is answered (an ambiguous write); such a fault only
        counts writes the simulator accepted, so a refused write (403, 400) never uses it up.
        """
        with self._lock:
            self._scripted.append(_Scripted(int(status), int(count), retry_after, endpoint, applied, int(after)))

    def clear_scripted(self) -> None:
        with self._lock:
            self._scripted.clear()

    def after_accepted_write(self, endpoint: str) -> tuple[int, dict] | None:
        """A write was applied: the ``(status, headers)`` an ``applied=True`` fault answers instead, or None."""
        with self._lock:
            scripted = self._take_scripted(endpoint, applied=True)
        return scripted[:2] if scripted is not None else None

    def _take_scripted(self, endpoint: str, *, applied: bool) -> tuple[int, dict, bool] | None:
        for s in self._scripted:
            if s.applied == applied and s.remaining > 0 and (s.endpoint is None or endpoint.startswith(s.endpoint)):
                if s.after > 0:
                    s.after -= 1
                    continue
                s.remaining -= 1
                if s.remaining == 0:
                    self._scripted.remove(s)
                headers = {"Retry-After": str(s.retry_after)} if s.retry_after is not None else {}
                return s.status, headers, applied
        return None

    def _matches(self, endpoint: str, prefixes) -> bool:
        return not prefixes or any(endpoint.startswith(p) for p in prefixes)

    def before(self, endpoint: str, is_write: bool) -> tuple[int, dict] | None:
        """Decide a fault for a call about to be handled: ``(status, headers)`` or ``None``.

        Ambiguous-write faults are decided after the write, by :meth:`after_accepted_write`.
        """
        with self._lock:
            scripted = self._take_scripted(endpoint, applied=False)
            if scripted is not None:
                return scripted[:2]
            cfg = self.config
            if not self._matches(endpoint, cfg.endpoints):
                return None
            if cfg.rate_429 > 0 and self._rng.random() < cfg.rate_429:
                headers = {"Retry-After": str(cfg.retry_after)} if cfg.retry_after is not None else {}
                return 429, headers
            if cfg.rate_5xx > 0 and self._rng.random() < cfg.rate_5xx:
                return self._rng.choice(cfg.status_5xx or (500,)), {}
            return None

    def ambiguous(self, endpoint: str) -> bool:
        """Should this successful write be answered 502 although it was applied?"""
        with self._lock:
            cfg = self.config
            if cfg.ambiguous_write_rate <= 0 or not self._matches(endpoint, cfg.endpoints):
                return False
            return self._rng.random() < cfg.ambiguous_write_rate

    @property
    def latency_s(self) -> float:
        return max(0, self.config.latency_ms or 0) / 1000.0


__all__ = ["FaultConfig", "Faults"]
