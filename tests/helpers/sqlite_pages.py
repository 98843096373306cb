"""Run as `python -m tests.helpers.sqlite_pages` with DATABASE_URL=sqlite:///… (the demo's database): migrate, seed
the demo's organization and logins, add a little mirror data, then open every portal page (GET) and the main API
lists as each demo login. Prints JSON: the pages that answered 500, and how many were opened.

Used by tests/ui/test_sqlite_pages.py: `make demo` runs on SQLite, the suite on PostgreSQL, and a query that only
PostgreSQL understands (a duration times a column, say) would break the demo alone.
"""
from __future__ import annotations

import json
import re

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # as the demo does: its cache, locks and budgets live there
    call_command("seed_demo", quiet_logins=True, verbosity=0)
    from accounts.models import Tenant, User
    from jobs.models import Job
    from ncm_sync.models import Alert, NetDevice, Router
    from tests.fleet import mirror_row
    from ui.urls import page_patterns

    tenant = Tenant.objects.order_by("pk").first()
    Tenant.objects.update(last_synced_at=timezone.now() - timezone.timedelta(hours=3))
    router = mirror_row(Router, tenant, name="store-1", state="online")
    mirror_row(Router, tenant, name="store-2", state="offline")
    mirror_row(NetDevice, tenant, router=router, type="mdm", name="mdm-1")
    mirror_row(Alert, tenant, router=router, type="ipsec_tunnel_down")
    job = Job.objects.create(tenant=tenant, kind="reboot", status="succeeded", counts={"total": 0})
    ids = {"tenant_id": tenant.pk, "router_id": router.pk, "job_id": job.pk}

    pages = []
    for pattern in page_patterns:  # every page whose ids we have (others need objects this data lacks)
        route = str(pattern.pattern)
        if "<str:" in route or any(name not in ids for name in re.findall(r"<int:(\w+)>", route)):
            continue
        pages.append("/" + re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), route))
    pages += ["/api/v1/routers/?search=store", "/api/v1/net-devices/", "/api/v1/alerts/", "/api/v1/alerts/counts/",
              "/api/v1/tenants/", "/api/v1/jobs/", "/api/v1/devices/", "/?stale=1", "/?offline=1", "/?poor=1"]
    broken = []
    for user in User.objects.order_by("pk"):
        client = Client()
        client.force_login(user)
        for path in pages:
            status = client.get(path).status_code
            if status >= 500:
                broken.append(f"{user.username} {path} {status}")
    print(json.dumps({"vendor": django.db.connection.vendor, "opened": len(pages), "broken": broken}))


if __name__ == "__main__":
    main()
