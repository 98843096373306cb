"""`make demo`: migrate, load demo data, then run web, worker, beat and the NCM simulators under honcho.

Without DATABASE_URL/REDIS_URL everything runs with no server: SQLite under var/, kombu's filesystem broker
and Django's database cache. Ctrl-C stops every process started here.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PY = sys.executable


def demo_env() -> dict[str, str]:
    VAR.mkdir(exist_ok=True)
    key_file = VAR / "demo-encryption-key"
    if not key_file.exists():
        from cryptography.fernet import Fernet

        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("PORTAL_ENCRYPTION_KEYS", key_file.read_text().strip())
    env.setdefault("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1")
    env.setdefault("ECCLOUD_RETRY_SECONDS", "5")  # the demo's ecCloud simulator may still be starting
    env.setdefault("PORT", "8000")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(env, *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> None:
    env = demo_env()
    manage(env, "migrate", "--noinput", "-v", "0")
    if not env.get("REDIS_URL"):
        manage(env, "createcachetable")
    seed = subprocess.run([PY, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    # Sync every demo tenant now: the worker takes the runs as soon as it starts (its NCM reads retry while the
    # simulators come up), and meanwhile the overview says a first sync is on its way instead of showing zeros.
    first_sync = subprocess.run([PY, "manage.py", "sync_tenant", "--all"], cwd=ROOT, env=env, capture_output=True, text=True)

    sys.path.insert(0, str(ROOT))
    from portal.demo_fleet import DEMO_TENANTS, ECCLOUD_DEMO, ECCLOUD_DEMO_KEY, eccloud_port, sim_port

    sim_keys = ("X_CP_API_ID=demo-cp-id X_CP_API_KEY=demo-cp-key X_ECM_API_ID=demo-ecm-id X_ECM_API_KEY=demo-ecm-key "
                "NCM_API_TOKEN=demo-v3-token")
    lines = [
        f"web: {PY} manage.py runserver 127.0.0.1:{env['PORT']} --noreload",
        f"worker: {PY} -m celery -A portal worker -Q interactive,bulk,sync,celery -c 2 -l INFO",
        f"beat: {PY} -m celery -A portal beat -l INFO -s {VAR / 'celerybeat-schedule'}",
        # 7 days of history, licences and a monthly report in var/mail once each tenant's first sync is in.
        f"history: {PY} manage.py demo_history",
    ]
    for index, (_name, slug, _tz, routers, seed_value) in enumerate(DEMO_TENANTS):
        lines.append(f"sim-{slug}: env {sim_keys} {PY} -m ncm_sim --host 127.0.0.1 --port {sim_port(index)} "
                     f"--routers {routers} --seed {seed_value}")
    _slug, sites, per_site, ec_seed = ECCLOUD_DEMO
    lines.append(f"eccloud-sim: env ECCLOUD_API_KEY={ECCLOUD_DEMO_KEY} {PY} -m eccloud_sim --host 127.0.0.1 "
                 f"--port {eccloud_port()} --sites {sites} --devices-per-site {per_site} --seed {ec_seed}")
    procfile = VAR / "Procfile.demo"
    procfile.write_text("\n".join(lines) + "\n")

    print()
    print(f"Portal: http://127.0.0.1:{env['PORT']}/  (API docs: /api/docs/, admin: /admin/)")
    print(seed.stdout.strip())
    if first_sync.returncode == 0:
        print("First sync of every demo tenant is on its way: the overview fills in by itself within a minute or so.")
    else:  # not fatal: the scheduler syncs due tenants every minute anyway
        print(f"Could not queue the first sync now ({(first_sync.stderr or first_sync.stdout).strip()[-300:]}); "
              "the scheduler starts it within a minute.")
    print("Press Ctrl-C to stop every process.")
    print(flush=True)
    honcho = str(Path(PY).with_name("honcho"))
    os.chdir(ROOT)
    os.execve(honcho, [honcho, "-f", str(procfile), "-d", str(ROOT), "start"], env)


if __name__ == "__main__":
    main()
