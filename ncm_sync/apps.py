from django.apps import AppConfig


class NcmSyncConfig(AppConfig):
    name = "ncm_sync"
    verbose_name = "NCM mirror and sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from ncm_sync import tasks  # noqa: F401  (registers its Celery tasks: services enqueue them by name)
        from ncm_sync.services.figures import connect_signals

        connect_signals()  # the overview's stored figures follow single-row mirror writes
