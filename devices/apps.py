from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices of every provider (NCM and ecCloud)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Announce upward into the per-tenant sync (ncm_sync may not import this app).
        from devices.services import sync
        from ncm_sync.services import runs

        runs.register_provider_sync("eccloud", sync.sync_eccloud_credential)
        runs.register_after_sync(sync.project_ncm_routers)
