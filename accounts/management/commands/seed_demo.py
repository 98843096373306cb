"""`manage.py seed_demo`: an MSP with three customer tenants on simulator fleets, and a login per role.

Idempotent: running it again keeps existing rows and resets the demo passwords.
"""
from __future__ import annotations

import os

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Credential, Membership, Organization, Tenant, User
from accounts.services import credential_save
from portal.demo_fleet import DEMO_TENANTS, ECCLOUD_DEMO, ECCLOUD_DEMO_KEY, SIM_KEYS, eccloud_port, sim_port

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "portal-demo-2026")
DEMO_APPROVAL_THRESHOLD = 25


class Command(BaseCommand):
    help = "Load the demo organization, tenants, credentials (pointing at the bundled simulators) and logins."

    def add_arguments(self, parser):
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    @transaction.atomic
    def handle(self, *args, quiet_logins=False, **options):
        # A job on more than 25 devices (a large reboot, a fleet-wide upgrade) waits for a second admin's approval.
        org, _ = Organization.objects.get_or_create(
            slug="northwind", defaults={"name": "Northwind MSP", "job_approval_threshold": DEMO_APPROVAL_THRESHOLD})
        tenants = []
        for index, (name, slug, tz, _routers, _seed) in enumerate(DEMO_TENANTS):
            tenant, _ = Tenant.objects.get_or_create(
                organization=org, slug=slug,
                defaults={"name": name, "timezone": tz, "sync_interval_minutes": 5, "next_sync_at": timezone.now()},
            )
            base_url = f"http://127.0.0.1:{sim_port(index)}/api/v2"
            existing = Credential.objects.filter(tenant=tenant, provider="ncm").first()
            credential_save(tenant=tenant, provider="ncm", base_url=base_url, secrets_in=SIM_KEYS, credential=existing)
            tenants.append(tenant)
            if slug == ECCLOUD_DEMO[0]:  # this tenant also has IgniteNet access points (the bundled eccloud_sim)
                existing = Credential.objects.filter(tenant=tenant, provider="eccloud").first()
                credential_save(tenant=tenant, provider="eccloud", base_url=f"http://127.0.0.1:{eccloud_port()}/pub/v1",
                                secrets_in={"api_key": ECCLOUD_DEMO_KEY}, credential=existing)

        logins = [
            ("operator", None, None, "operator", "platform"),
            ("msp-admin", org, None, "admin", org.name),
            ("msp-tech", org, None, "full_access", org.name),
            ("msp-noc", org, None, "diagnostic", org.name),
            ("bakery-viewer", None, tenants[0], "read_only", tenants[0].name),
            ("clinic-admin", None, tenants[1], "admin", tenants[1].name),
        ]
        for username, scope_org, scope_tenant, role, scope_name in logins:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            user.set_password(DEMO_PASSWORD)
            user.is_superuser = user.is_staff = role == "operator"
            user.home_organization = scope_org or (scope_tenant.organization if scope_tenant else None)
            user.home_tenant = scope_tenant
            user.save()
            if role != "operator":
                Membership.objects.update_or_create(
                    user=user, organization=scope_org, tenant=scope_tenant, defaults={"role": role}
                )
            if not quiet_logins:
                self.stdout.write(f"demo login: {username} / {DEMO_PASSWORD} ({role} on {scope_name})")
