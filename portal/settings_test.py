"""Test settings: real PostgreSQL and Redis (contract §1), their own Redis db, fast password hashing."""
import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# A fixed key for tests only: secrets written by tests are throwaway.
os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs=")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "x" * 50)
os.environ.setdefault("NCM_ALLOWED_BASE_URLS", "https://www.cradlepointecm.com/api/v2,http://127.0.0.1:,http://localhost:")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1")
os.environ.setdefault("ECCLOUD_ALLOWED_BASE_URLS", "https://cloud.ignitenet.com/pub/v1,http://127.0.0.1:,http://localhost:")
os.environ.setdefault("ECCLOUD_RETRY_SECONDS", "0.05")
os.environ.setdefault("ECCLOUD_TASK_POLL_SECONDS", "0.1")
os.environ.setdefault("ECCLOUD_TASK_TIMEOUT_SECONDS", "10")

# Tests use their own Redis db (15 down, one per xdist worker) so they never touch a developer's data and
# parallel workers never flush each other's locks or queues.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_worker_index = int(_worker[2:]) if _worker.startswith("gw") else 0
_redis = urlsplit(os.environ["REDIS_URL"])
# The value names the process that pinned it; "1" means a parent pinned it on purpose (the Celery worker
# helper passes its test's db). The xdist controller imports these settings too, and its workers inherit its
# environment: each worker must pin its own db, or they all share one and flush each other's keys.
if os.environ.get("PORTAL_TEST_REDIS_FIXED") not in ("1", _worker):
    os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path=f"/{15 - _worker_index}"))
    os.environ["PORTAL_TEST_REDIS_FIXED"] = _worker  # subprocesses (Celery workers) inherit the same db
    os.environ["PORTAL_CACHE_PREFIX"] = f"test-{_worker}"
os.environ.setdefault("PORTAL_CACHE_PREFIX", f"test-{_worker}")

from portal.settings import *  # noqa: E402,F401,F403

DEBUG = False
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "100000/min"}}  # noqa: F405
AXES_FAILURE_LIMIT = 5

# Each test process gets a database of its own (pytest-xdist adds _gw0, _gw1): a stale connection to an earlier
# run's database (a killed worker, another session on this PostgreSQL) can never block this run's setup.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.environ.get("PORTAL_TEST_DB_NAME") or f"test_portal_{os.getpid()}",
}
