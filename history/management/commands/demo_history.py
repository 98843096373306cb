"""`make demo` (scripts/demo.py runs it as one of its processes): once each demo tenant's first sync has
succeeded, give its credential the simulator's v3 token, collect 7 days of history, sync licences, add a monthly
report schedule and send a report of the last 30 days to the demo's mail folder (var/mail). Then it stays
idle (honcho stops everything when one process exits) unless --exit."""
from __future__ import annotations

import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

DEMO_V3_TOKEN = "demo-v3-token"


class Command(BaseCommand):
    help = "Demo: 7 days of history, licences and a monthly report for every demo tenant (after its first sync)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=7.0)
        parser.add_argument("--wait", type=int, default=900, help="Seconds to wait for each tenant's first sync.")
        parser.add_argument("--exit", action="store_true", help="Exit when done (default: stay idle).")

    def handle(self, *args, days, wait, exit, **options):
        from accounts.models import Credential, Tenant
        from accounts.services import credential_save, credential_secrets
        from history.licences import sync_licences
        from history.models import ReportSchedule
        from history.reports import generate_report, report_schedule_save, send_report
        from history.services import collect_tenant
        from portal.demo_fleet import DEMO_TENANTS

        deadline = time.monotonic() + wait
        for _name, slug, *_rest in DEMO_TENANTS:
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                continue
            while tenant.last_synced_at is None and time.monotonic() < deadline:
                time.sleep(3)
                tenant.refresh_from_db()
            if tenant.last_synced_at is None:
                self.stderr.write(f"demo history: {slug} has not synced yet; skipped (the hourly cycle collects later)")
                continue
            credential = Credential.objects.filter(tenant=tenant, provider="ncm").first()
            if credential and not credential_secrets(credential).get("api_token"):
                credential_save(tenant=tenant, provider="ncm", base_url=credential.base_url,
                                secrets_in={"api_token": DEMO_V3_TOKEN}, credential=credential)
            try:
                counts = collect_tenant(tenant, days=days, max_calls=0)
                licences = sync_licences(tenant)
            except Exception as exc:  # the demo carries on; the beat retries on its cycle
                self.stderr.write(f"demo history: {slug}: {type(exc).__name__}: {exc}")
                continue
            schedule = ReportSchedule.objects.filter(tenant=tenant).first() or report_schedule_save(
                actor=None, tenant=tenant, frequency="monthly", recipients=[f"it@{slug}.example"])
            now = timezone.now()
            report = send_report(generate_report(tenant, "monthly", start=now - timedelta(days=30), end=now,
                                                 schedule=schedule))
            self.stdout.write(f"demo history: {tenant.name}: samples {counts}, licences {licences.get('licences', 0)}, "
                              f"monthly report #{report.pk} {report.status} to {', '.join(report.recipients)}")
        self.stdout.write("demo history: done (reports in var/mail)")
        if not exit:
            while True:
                time.sleep(3600)
