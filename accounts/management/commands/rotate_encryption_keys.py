"""`manage.py rotate_encryption_keys`: re-encrypt every stored secret under the first key."""
from django.core.management.base import BaseCommand, CommandError

from accounts.services import rotate_all_secrets
from portal.crypto import SecretDecryptionError


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key of PORTAL_ENCRYPTION_KEYS. "
        "Afterwards the older keys can be removed from PORTAL_ENCRYPTION_KEYS."
    )

    def handle(self, *args, **options):
        try:
            count = rotate_all_secrets()
        except SecretDecryptionError as exc:
            raise CommandError(f"{exc} Nothing was changed.") from None
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} secret record(s) under the primary key."))
