from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "history"
    verbose_name = "History (samples, roll-ups, licences, reports)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from history import tasks  # noqa: F401  (registers its Celery tasks: services enqueue them by name)
