"""docker-compose.yml stays valid and keeps the production shape the contract names (no docker engine here)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_has_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in " ".join(services["web"]["command"])
    worker = " ".join(services["worker"]["command"])
    assert "-A portal" in worker and "interactive,bulk,sync,celery" in worker


def test_readme_first_screen_has_the_two_commands():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert "make demo" in first_screen and "make test" in first_screen


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_compose_worker_scales_out_and_beat_stays_single():
    """`docker compose up --scale worker=N`: a scaled service may not pin a container name or a host port."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "replicas" not in str(services["beat"].get("deploy", {}))  # exactly one beat
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-portal-env"]
    assert "PORTAL_METRICS_TOKEN" in env and "LOG_FORMAT" in env
    assert env["REDIS_URL"].startswith("redis://")  # locks, budgets and the broker shared by every worker


def _compose_command():
    import shutil
    import subprocess

    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return command
    return None


def test_compose_file_passes_docker_compose_config():
    import subprocess

    command = _compose_command()
    if command is None:
        import pytest

        pytest.skip("neither `docker compose` (the plugin) nor `docker-compose` is installed here")
    env = {"DJANGO_SECRET_KEY": "x" * 50, "PORTAL_ENCRYPTION_KEYS": "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs=",
           "PATH": __import__("os").environ["PATH"], "WORKER_QUEUES": "sync"}
    out = subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "config"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    assert config["services"]["worker"]["command"][5] == "sync"  # the pool's queues come from WORKER_QUEUES


def test_prometheus_rules_parse_and_name_only_metrics_the_portal_exports(client, settings, db):
    import re

    rules = yaml.safe_load((ROOT / "docs" / "prometheus-rules.yml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"PortalSyncLagging", "PortalNcmBudgetExhausted", "PortalWebhookSubscriptionDisabled"} <= set(alerts)
    settings.PORTAL_METRICS_TOKEN = "rules-test-token-0123456789"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer rules-test-token-0123456789").content.decode()
    exported = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            exported |= {name, f"{name}_total"} if kind == "counter" else {name}
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"} and rule["annotations"]["summary"], name
        used = set(re.findall(r"\bportal_[a-z_]+", rule["expr"]))
        assert used and used <= exported, (name, used - exported)
