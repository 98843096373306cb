"""`make demo` runs on SQLite: every portal page and the main API lists answer without a server error there too."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.celery_worker import ROOT


def test_every_page_works_on_the_demos_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "PORTAL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings", DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        PORTAL_VAR_DIR=str(tmp_path), PORTAL_ENCRYPTION_KEYS=os.environ.get(
            "PORTAL_ENCRYPTION_KEYS", "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs="),
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    done = subprocess.run([sys.executable, "-m", "tests.helpers.sqlite_pages"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["vendor"] == "sqlite"
    assert facts["opened"] >= 25, facts
    assert facts["broken"] == [], facts["broken"]
