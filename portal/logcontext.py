"""What a log record is about: request id, user, tenant, Celery task, job, sync run (contextvars).

`LogContextFilter` (on the console handler, settings.LOGGING) copies the fields set in the current context
onto every record, so `LOG_FORMAT=json` lines carry them as keys (python-json-logger puts a record's extra
attributes in the object) and plain lines are unchanged. Fields are set by:
- `portal.middleware.RequestIdMiddleware` (request_id) and `LogContextMiddleware` (user_id, tenant_id from the
  URL: `/t/<tenant_id>/…`, `/api/v1/tenants/<pk>/…`, or `?tenant=`);
- Celery's `task_prerun` (`bind_task_context`, connected in portal/celery.py): task name and id, and the
  job/sync run/delivery/tenant ids the task was given by name (`job_id`, `run_id`, …);
- any code that knows more: `with log_context(tenant_id=…, sync_run_id=…):`.
"""
from __future__ import annotations

import contextlib
import inspect
import logging
from contextvars import ContextVar

__all__ = ["log_context", "current_fields", "LogContextFilter", "LogContextMiddleware", "bind_task_context",
           "unbind_task_context"]

FIELDS = ("request_id", "user_id", "tenant_id", "task", "task_id", "job_id", "sync_run_id", "delivery_id")
_fields: ContextVar[dict] = ContextVar("portal_log_fields", default={})

# A task argument's name -> the log field it fills.
_TASK_ARGUMENTS = {"job_id": "job_id", "run_id": "sync_run_id", "delivery_id": "delivery_id", "tenant_id": "tenant_id"}


def current_fields() -> dict:
    from portal.middleware import current_request_id

    fields = dict(_fields.get())
    request_id = current_request_id.get()
    if request_id and "request_id" not in fields:
        fields["request_id"] = request_id
    return fields


@contextlib.contextmanager
def log_context(**fields):
    """Add fields (None values ignored) to every record logged inside the block."""
    token = _fields.set({**_fields.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


class LogContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_fields()
        # django.request logs a 4xx/5xx after the middleware chain returned (its context is gone) but hands
        # the request itself in `extra`: take its fields from there.
        request = getattr(record, "request", None)
        if request is not None and not fields.get("request_id"):
            fields = {**getattr(request, "log_fields", {}), **fields}
            if getattr(request, "request_id", None):
                fields["request_id"] = request.request_id
        for name, value in fields.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _tenant_from(request, view_kwargs) -> int | None:
    value = view_kwargs.get("tenant_id")
    if value is None and request.path.startswith("/api/v1/tenants/"):
        value = view_kwargs.get("pk")
    if value is None:
        value = request.GET.get("tenant")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class LogContextMiddleware:
    """Tags a request's records with the signed-in user and the tenant its URL names (after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _fields.set(dict(_fields.get()))  # this request's own copy, dropped when it ends
        try:
            return self.get_response(request)
        finally:
            _fields.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        fields = dict(_fields.get())
        if getattr(user, "is_authenticated", False):
            fields["user_id"] = user.pk
        tenant_id = _tenant_from(request, view_kwargs)
        if tenant_id is not None:
            fields["tenant_id"] = tenant_id
        _fields.set(fields)
        request.log_fields = fields
        return None


_task_tokens: dict[str, object] = {}


def bind_task_context(sender=None, task_id=None, task=None, args=None, kwargs=None, **_ignored):
    """Celery `task_prerun`: the task's name and id, and the ids it was given, on every record it logs."""
    fields = {"task": getattr(task, "name", None), "task_id": task_id}
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
        for name, field in _TASK_ARGUMENTS.items():
            if name == "run_id" and not task.name.startswith("ncm_sync."):
                continue  # a sync run's id only in ncm_sync's tasks
            if name in bound.arguments:
                fields[field] = bound.arguments[name]
    except Exception:  # an odd signature never stops the task
        pass
    _task_tokens[task_id] = _fields.set({k: v for k, v in fields.items() if v is not None})


def unbind_task_context(sender=None, task_id=None, **_ignored):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _fields.reset(token)
        except ValueError:  # set in another context (a thread pool): start clean instead
            _fields.set({})
