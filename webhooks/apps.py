from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks and alert push"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Deliver the domain events other apps announce (portal/events.py) to subscribed webhooks.
        from portal.events import domain_event
        from webhooks import tasks  # noqa: F401  (registers its Celery tasks: services enqueue them by name)
        from webhooks.services import deliver_domain_event

        domain_event.connect(deliver_domain_event, dispatch_uid="webhooks.deliver_domain_event")
