from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        # Fail at start-up, clearly, when an encryption key is malformed (never a silent fallback).
        from portal.crypto import get_fernet

        get_fernet()
