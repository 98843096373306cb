"""Real Celery workers for tests: `celery -A portal worker` subprocesses on the test database and Redis db.

Use with `@pytest.mark.django_db(transaction=True)` so the worker sees committed rows. The worker can be
SIGKILLed (child or whole process) to test crash safety, which the in-thread `celery_worker` fixture cannot.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
ALL_QUEUES = "interactive,bulk,sync,celery"


def _test_database_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    ready_marker = "ready."

    def __init__(self, queues: str = ALL_QUEUES, concurrency: int = 2, env: dict | None = None):
        self.queues, self.concurrency, self.extra_env = queues, concurrency, env or {}
        self.log = Path(tempfile.mkstemp(prefix=f"celery-{type(self).__name__.lower()}-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", self.queues, "-P", "prefork",
            "-c", str(self.concurrency), "-l", "INFO", "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]

    def start(self, timeout: float = 45) -> "Worker":
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="portal.settings_test",
            DATABASE_URL=_test_database_url(),
            REDIS_URL=settings.REDIS_URL,
            PORTAL_TEST_REDIS_FIXED="1",
            PORTAL_CACHE_PREFIX=settings.CACHES["default"].get("KEY_PREFIX", ""),
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        cmd = self.command()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_marker in self.log.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"Celery worker exited early:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"Celery worker not ready after {timeout}s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        result = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in result.stdout.split()]

    def kill_children(self) -> list[int]:
        """SIGKILL the pool processes (as the OOM killer would); the main process stays."""
        pids = self.children()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Beat(Worker):
    """`celery -A portal beat` exactly as deployed (settings' scheduler and CELERY_BEAT_SCHEDULE), no pidfile."""

    ready_marker = "beat: Starting..."

    def __init__(self, env: dict | None = None):
        super().__init__(env=env)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "portal", "beat", "-l", "INFO", "--pidfile=",
                "-s", str(self.log.with_suffix(".schedule"))]


@contextmanager
def celery_beat(**kwargs):
    beat = Beat(**kwargs).start()
    try:
        yield beat
    finally:
        beat.stop()


@contextmanager
def celery_worker(**kwargs):
    worker = Worker(**kwargs).start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
