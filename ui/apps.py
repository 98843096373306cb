from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "ui"
    verbose_name = "Portal web pages"
    default_auto_field = "django.db.models.BigAutoField"
