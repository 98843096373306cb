from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs (reboots, speed tests, config pushes)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobs import tasks  # noqa: F401  (connects the worker start-up reaper)
