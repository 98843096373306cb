"""`manage.py create_api_token USERNAME [--name NAME] [--expires-days N]`: prints the new token, and only it."""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant, User
from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (once) on stdout. Only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to tell tokens apart.")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never).")
        parser.add_argument("--tenant", type=int, default=None, help="Limit the token to this tenant id.")
        parser.add_argument("--read-only", action="store_true", help="The token can only read.")

    def handle(self, *args, username, name, expires_days, tenant=None, read_only=False, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        tenant_obj = None
        if tenant is not None:
            tenant_obj = Tenant.objects.filter(pk=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"No tenant with id {tenant}.")
        try:
            _, clear = api_token_create(
                user=user, name=name, expires_days=expires_days, tenant=tenant_obj, write_enabled=not read_only
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(clear)
