"""`manage.py setup_periodic_tasks`: the one beat entry, `dispatch_due_syncs` every minute on the sync queue."""
from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask

DISPATCH_NAME = "ncm_sync.dispatch_due_syncs"


class Command(BaseCommand):
    help = "Create or update the periodic tasks (django-celery-beat DatabaseScheduler)."

    def handle(self, *args, **options):
        every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
        task, created = PeriodicTask.objects.update_or_create(
            name=DISPATCH_NAME,
            defaults={
                "task": "ncm_sync.tasks.dispatch_due_syncs",
                "interval": every_minute,
                "crontab": None,
                "queue": "sync",
                "enabled": True,
                "description": "Enqueue the syncs of tenants whose interval has passed (per-tenant jitter).",
            },
        )
        self.stdout.write(f"{'created' if created else 'updated'} periodic task {task.name} (every 60 s, queue sync)")
