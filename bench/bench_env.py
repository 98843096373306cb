"""What every benchmark sets before Django starts: a scratch PostgreSQL database of its own (dropped and made
anew, or kept with `reuse`), a Redis db of its own, production settings with test-only keys, quiet logs."""
from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def configure_bench_env(database: str, *, redis_db: str | int, reuse: bool = False, **extra: str) -> None:
    db = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"))
    os.environ["DATABASE_URL"] = urlunsplit(db._replace(path=f"/{database}"))
    redis = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    os.environ["REDIS_URL"] = urlunsplit(redis._replace(path=f"/{redis_db}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 60)
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs=")
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ.update(extra)
    import psycopg

    with psycopg.connect(urlunsplit(db._replace(path="/postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists and reuse:
            return
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
