"""`manage.py sync_tenant TENANT_ID... | --all [--wait]`: request syncs (on the sync queue) or, with --wait,
run them here and print each run's figures."""
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Credential, Tenant
from ncm_sync.models import SyncTrigger
from ncm_sync.services import request_sync, sync_tenant


class Command(BaseCommand):
    help = "Sync tenants' NCM data now: enqueue (default) or run in this process (--wait)."

    def add_arguments(self, parser):
        parser.add_argument("tenant_ids", nargs="*", type=int)
        parser.add_argument("--all", action="store_true", help="Every tenant with a credential (NCM or ecCloud).")
        parser.add_argument("--wait", action="store_true", help="Run here and wait for the result.")

    def handle(self, *args, tenant_ids, all, wait, **options):
        if all:
            tenant_ids = sorted(set(Credential.objects.values_list("tenant_id", flat=True)))
        if not tenant_ids:
            raise CommandError("Name tenant ids or pass --all.")
        failed = False
        for tenant_id in tenant_ids:
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            if tenant is None:
                raise CommandError(f"No tenant {tenant_id}.")
            if wait:
                run = sync_tenant(tenant_id=tenant_id)
            else:
                run, _created = request_sync(tenant=tenant, trigger=SyncTrigger.MANUAL)
            failed |= run.status == "failed"
            self.stdout.write(
                f"tenant {tenant_id} ({tenant.name}): run {run.pk} {run.status}"
                + (f" in {run.duration:.1f}s, {run.api_calls} NCM calls, created {run.created}, updated {run.updated}, "
                   f"deleted {run.deleted}, unchanged {run.unchanged}" if run.duration is not None else "")
                + (f" — {run.error}" if run.error else "")
            )
        if failed:
            raise CommandError("At least one sync failed.")
