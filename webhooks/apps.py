from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks and alert push"
    default_auto_field = "django.db.models.BigAutoField"
