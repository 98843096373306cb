"""The Celery application (`celery -A portal worker ...`), configured from Django settings (CELERY_*)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Structured logs: a task's records carry its name, id and the job/sync run ids it was given (portal/logcontext.py).
from celery.signals import task_postrun, task_prerun  # noqa: E402

from portal.logcontext import bind_task_context, unbind_task_context  # noqa: E402

task_prerun.connect(bind_task_context, weak=False)
task_postrun.connect(unbind_task_context, weak=False)
