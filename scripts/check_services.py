"""Stop at once, saying which service is missing and how to start it, before the test suite runs."""
import os
import socket
import sys
from urllib.parse import urlsplit

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

HOW = {
    "PostgreSQL": "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
                  "(or set DATABASE_URL=postgres://USER@HOST:PORT/DB)",
    "Redis": "start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' "
             "(or set REDIS_URL=redis://HOST:PORT/0)",
}


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=3):
            return True
    except OSError:
        return False


def main() -> int:
    missing = []
    if not reachable(DATABASE_URL, 5432):
        missing.append(("PostgreSQL", DATABASE_URL))
    if not reachable(REDIS_URL, 6379):
        missing.append(("Redis", REDIS_URL))
    for name, url in missing:
        where = urlsplit(url)  # host and port only: a URL may carry a password
        print(f"ERROR: {name} is not reachable at {where.hostname}:{where.port}: {HOW[name]}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
