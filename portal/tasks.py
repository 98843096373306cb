"""One way to queue Celery work: by task name, through the app's registry.

Services and runners enqueue with `enqueue("app.tasks.name", *args)` instead of importing their task
modules, so `services`, `runners` and `tasks` never import each other in a circle (tasks import services;
nothing imports tasks but the app's `AppConfig.ready`, which registers them). Queues come from
CELERY_TASK_ROUTES; `task_always_eager` (tests) is honoured because the registered task object is used.
"""
from __future__ import annotations

__all__ = ["enqueue"]


def enqueue(name: str, *args, countdown: float | None = None, **options):
    from celery import current_app

    task = current_app.tasks[name]
    if countdown is None and not options:
        return task.delay(*args)
    return task.apply_async(args=args, countdown=countdown, **options)
