"""Sync runs: requesting one (manual or scheduled), running one under the per-tenant lock, and the dispatcher.

- `request_sync` creates a queued `SyncRun` and enqueues it on the `sync` queue after commit, unless the
  tenant already has a queued or running sync: then that run is returned (`created=False`). Requests for one
  tenant serialise on the tenant row, and a partial unique index allows one active run per tenant.
- `sync_tenant` holds a cache lock (`cache.add`, SET NX with a TTL above the task's hard time limit) so two
  runs of one tenant never overlap, whichever worker picks them up.
- A running run beats `heartbeat_at` every SYNC_HEARTBEAT_SECONDS from a thread of its worker. One whose
  heartbeat is older than SYNC_HEARTBEAT_TIMEOUT_SECONDS lost its worker (SIGKILL, OOM): `reap_dead_runs`
  fails it, saying so, and makes its tenant due at once; `request_sync` never returns such a run.
- `dispatch_due_syncs` (beat, every SYNC_DISPATCH_INTERVAL_SECONDS; declared in settings.CELERY_BEAT_SCHEDULE)
  reaps dead runs, claims due tenants with `select_for_update(skip_locked=True)`, moves `next_sync_at` forward
  by the interval pulled toward the tenant's fixed phase (`next_sync_time`: tenants spread over the interval),
  requests their syncs, and records when it ran (`dispatcher_last_run`).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.audit import AuditAction, record_change
from accounts.authorization import require_action
from accounts.models import Credential, Provider, SyncStatus, Tenant
from accounts.roles import Action
from ncm_sync.events import announce_router_transitions, announce_sync_failed, announce_synced_alerts, router_states
from ncm_sync.client import (
    NcmAuthError,
    NcmError,
    NcmRateLimited,
    NcmUnavailable,
    client_for_credential,
)
from ncm_sync.models import (
    MIRRORED_MODELS, ConfigurationManager, SyncRun, SyncRunStatus, SyncState, SyncTrigger, TenantFigures,
)
from ncm_sync.ratebudget import RateBudgetTimeout
from ncm_sync.services.sync import CHANGE_FILTERS, TenantSync
from ncm_sync.services.figures import refresh_tenant_figures
from portal.heartbeat import Heartbeat
from portal.logcontext import log_context
from portal.retention import delete_in_batches, retention_cutoff
from portal.tasks import enqueue as queue_task

logger = logging.getLogger(__name__)

__all__ = [
    "request_sync", "sync_tenant", "dispatch_due_syncs", "reap_dead_runs", "dispatcher_last_run", "dispatcher_status", "lock_key", "ACTIVE",
]

ACTIVE = (SyncRunStatus.QUEUED, SyncRunStatus.RUNNING)


class ProviderSyncError(Exception):
    """A provider registered below failed its part of a tenant's sync; `message` says why in words."""

    def __init__(self, message: str, *, figures: dict | None = None):
        super().__init__(message)
        self.message = message
        self.figures = figures or {}


# Other vendors' syncs (announced upward: the `devices` app registers ecCloud in its AppConfig.ready, since this
# app may not import it). provider -> fn(tenant_id=, credential=) -> {resource: figures dict}; raises
# ProviderSyncError. AFTER_SYNC callbacks fn(tenant_id=, changed=) run after a run's mirrors are written (the
# vendor-neutral device list projects NCM routers there); `changed` names the NCM resources whose rows the run
# wrote (None: unknown, e.g. no NCM credential), so a callback can skip work an unchanged resync does not need.
# They never fail the run.
PROVIDER_SYNCS: dict = {}
AFTER_SYNC: list = []


def register_provider_sync(provider: str, fn) -> None:
    PROVIDER_SYNCS[provider] = fn


def register_after_sync(fn) -> None:
    if fn not in AFTER_SYNC:
        AFTER_SYNC.append(fn)


def lock_ttl() -> int:
    return int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800)) + 60


def lock_key(tenant_id: int) -> str:
    return f"ncm-sync-lock:{tenant_id}"


def _stale_before():
    """A queued run older than this was lost (its task never ran)."""
    return timezone.now() - timedelta(seconds=lock_ttl())


def heartbeat_every() -> float:
    return float(getattr(settings, "SYNC_HEARTBEAT_SECONDS", 10))


def heartbeat_timeout() -> float:
    return float(getattr(settings, "SYNC_HEARTBEAT_TIMEOUT_SECONDS", 60))


def _dead_before():
    """A running run whose last heartbeat is older than this lost its worker."""
    return timezone.now() - timedelta(seconds=heartbeat_timeout())


def _is_lost(run: SyncRun) -> bool:
    if run.status == SyncRunStatus.RUNNING:
        return (run.heartbeat_at or run.started_at or run.created_at) < _dead_before()
    return run.created_at < _stale_before()


def _lost_message(run: SyncRun) -> str:
    if run.status == SyncRunStatus.RUNNING:
        last = run.heartbeat_at or run.started_at or run.created_at
        return (f"The sync was lost: its worker stopped sending heartbeats (last at {last:%Y-%m-%d %H:%M:%S} UTC, "
                f"none for over {heartbeat_timeout():.0f} s), so it was killed or crashed. Its tenant is synced again at once.")
    return "The sync was lost: it stayed queued and its task never ran. Its tenant is synced again at once."


def _enqueue(run: SyncRun) -> None:
    queue_task("ncm_sync.tasks.sync_tenant_task", run.pk)  # the `sync` queue (settings.CELERY_TASK_ROUTES)


def request_sync(*, tenant: Tenant, user=None, trigger: str = SyncTrigger.MANUAL, enqueue: bool = True) -> tuple[SyncRun, bool]:
    """A queued run for `tenant`, or the one already queued or running: returns (run, created).

    A person's request (`user`) needs `sync` on the tenant and is audited; the scheduler's (no user) isn't.
    """
    if user is not None:
        require_action(user, Action.SYNC, tenant=tenant)
    run, created = _request_sync(tenant=tenant, user=user, trigger=trigger, enqueue=enqueue)
    if user is not None:
        record_change(actor=user, action=AuditAction.ACTION, instance=tenant,
                      extra={"action": "sync", "sync_run": run.pk, "created": created})
    return run, created


def _request_sync(*, tenant: Tenant, user, trigger: str, enqueue: bool) -> tuple[SyncRun, bool]:
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # serialise requests per tenant
        active = SyncRun.objects.filter(tenant_id=tenant.pk, status__in=ACTIVE).first()
        if active is not None:
            if not _is_lost(active):
                return active, False
            _fail_lost(active)
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    tenant_id=tenant.pk, status=SyncRunStatus.QUEUED, trigger=trigger,
                    requested_by=user if getattr(user, "pk", None) else None,
                )
        except IntegrityError:  # another request won the race (the partial unique index)
            return SyncRun.objects.get(tenant_id=tenant.pk, status__in=ACTIVE), False
        Tenant.objects.filter(pk=tenant.pk).exclude(sync_status=SyncStatus.RUNNING).update(sync_status=SyncStatus.QUEUED)
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run))
    return run, True


def _finish(run: SyncRun, status: str, *, error: str = "", fields: dict | None = None,
            tenant: dict | None = None) -> None:
    """The run's outcome and (`tenant`) its tenant's sync status, in one transaction: a worker stopped between
    the two would leave a finished run beside a tenant that still says otherwise."""
    run.status = status
    run.error = error[:2000]
    run.finished_at = timezone.now()
    for name, value in (fields or {}).items():
        setattr(run, name, value)
    with transaction.atomic():
        run.save()
        if tenant is not None:
            Tenant.objects.filter(pk=run.tenant_id).update(**tenant)


def _fail_lost(run: SyncRun) -> None:
    message = _lost_message(run)
    logger.warning("sync run %s of tenant %s: %s", run.pk, run.tenant_id, message)
    _finish(run, SyncRunStatus.FAILED, error=message, tenant={"sync_status": SyncStatus.FAILED, "sync_error": message})
    announce_sync_failed(run)


def reap_dead_runs() -> list[int]:
    """Fail every active run that lost its worker and make its tenant due now. Returns the tenants' ids."""
    candidates = SyncRun.objects.filter(
        Q(status=SyncRunStatus.RUNNING, heartbeat_at__lt=_dead_before())
        | Q(status=SyncRunStatus.RUNNING, heartbeat_at__isnull=True, started_at__lt=_dead_before())
        | Q(status=SyncRunStatus.QUEUED, created_at__lt=_stale_before())
    ).values_list("pk", flat=True)
    tenants = []
    for pk in list(candidates):
        with transaction.atomic():
            run = SyncRun.objects.select_for_update(skip_locked=True).filter(pk=pk, status__in=ACTIVE).first()
            if run is None or not _is_lost(run):
                continue  # settled, beaten or being handled meanwhile
            _fail_lost(run)
            # Syncs again on this very dispatch, not after its interval.
            Tenant.objects.filter(pk=run.tenant_id).update(next_sync_at=timezone.now())
            tenants.append(run.tenant_id)
    _resend_stuck_queued()
    return tenants


def _resend_stuck_queued() -> int:
    """Send again the task of a run queued for long: its message may be held by a worker that was SIGKILLed
    (reserved, unacked: Redis gives it back only after the visibility timeout). Resends back off (2, 4, 8…
    minutes after queueing) so a long but healthy backlog gains few duplicates; a duplicate is a no-op
    (a run that is no longer queued, or whose lock is held, is not started again). `heartbeat_at` of a
    queued run is when its task was last sent."""
    first = float(getattr(settings, "SYNC_QUEUED_RESEND_SECONDS", 120))
    now = timezone.now()
    sent = 0
    for run in SyncRun.objects.filter(
        Q(heartbeat_at__lt=now - timedelta(seconds=first)) | Q(heartbeat_at__isnull=True, created_at__lt=now - timedelta(seconds=first)),
        status=SyncRunStatus.QUEUED,
    ).only("pk", "created_at", "heartbeat_at", "tenant_id")[:1000]:
        last = run.heartbeat_at or run.created_at
        if now - last < max(timedelta(seconds=first), last - run.created_at):
            continue
        if SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.QUEUED, heartbeat_at=run.heartbeat_at).update(heartbeat_at=now):
            logger.info("sync run %s of tenant %s queued since %s: its task is sent again", run.pk, run.tenant_id, run.created_at)
            _enqueue(run)
            sent += 1
    return sent


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, NcmAuthError):
        return (f"NCM rejected the tenant's API keys ({exc.status or 'auth'}): check the NCM credential "
                "(X-CP-API-ID/KEY, X-ECM-API-ID/KEY). Nothing was changed in the mirror.")
    if isinstance(exc, NcmRateLimited):
        return "NCM kept answering 429 (rate limited) after every retry; the next sync will try again. " + exc.message
    if isinstance(exc, NcmUnavailable):
        return "NCM is unavailable after every retry; the next sync will try again. " + exc.message
    if isinstance(exc, ProviderSyncError):
        return exc.message
    if isinstance(exc, RateBudgetTimeout):
        return f"The credential's NCM call budget stayed exhausted: {exc}"
    if isinstance(exc, NcmError):
        return f"NCM error: {exc.message}"
    return f"Internal error during sync ({type(exc).__name__}); see the worker log."


def sync_tenant(*, tenant_id: int, run_id: int | None = None, workers: int = 0, client=None) -> SyncRun:
    """Run (or create and run) a sync of one tenant under its lock. Never raises for NCM failures."""
    if run_id is None:
        run, _created = request_sync(tenant=Tenant.objects.get(pk=tenant_id), trigger=SyncTrigger.MANUAL, enqueue=False)
    else:
        run = SyncRun.objects.get(pk=run_id, tenant_id=tenant_id)
    if run.status not in ACTIVE:
        return run  # redelivered after it finished: nothing to do

    key = lock_key(tenant_id)
    if not cache.add(key, run.pk, timeout=lock_ttl()):
        holder = cache.get(key)
        if holder == run.pk or (holder is not None and SyncRun.objects.filter(pk=holder, status=SyncRunStatus.RUNNING).exists()):
            # A sync of this tenant is running (this very run, redelivered, or another): never overlap.
            logger.info("sync of tenant %s already running (run %s); run %s not started again", tenant_id, holder, run.pk)
            return run
        cache.delete(key)  # a lock left behind by a run that is no longer running
        if not cache.add(key, run.pk, timeout=lock_ttl()):
            return run
    try:
        with log_context(tenant_id=tenant_id, sync_run_id=run.pk):
            return _run_locked(run, workers=workers, client=client)
    finally:
        if cache.get(key) == run.pk:
            cache.delete(key)


def _run_locked(run: SyncRun, *, workers: int, client) -> SyncRun:
    tenant_id = run.tenant_id
    run.status = SyncRunStatus.RUNNING
    run.started_at = run.heartbeat_at = timezone.now()
    run.save(update_fields=["status", "started_at", "heartbeat_at"])
    Tenant.objects.filter(pk=tenant_id).update(sync_status=SyncStatus.RUNNING)
    heartbeat = Heartbeat(
        SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING), every=heartbeat_every(),
        values=lambda: {"heartbeat_at": timezone.now()}, beat_now=False,
    )
    with heartbeat:
        return _run_engine(run, workers=workers, client=client)


def plan_sync(run: SyncRun) -> tuple[list, dict]:
    """What a run lists: (resources, changed_since). A requested run, or a scheduled one when the last full sync is
    older than NCM_FULL_SYNC_MINUTES, lists everything completely (exact: creates, changes, deletions). Other
    scheduled runs are light: configuration managers are left out (no dashboard shows them; the pages that do
    fetch a stale router's on demand, `ncm_sync.services.configuration`) and routers and modem metrics are listed
    by NCM's "changed after" filters from the stored cursors (deletions wait for the next full sync)."""
    resources = list(MIRRORED_MODELS)
    minutes = settings.NCM_FULL_SYNC_MINUTES
    if run.trigger != SyncTrigger.SCHEDULE or minutes <= 0:
        return resources, {}
    state = SyncState.objects.filter(tenant_id=run.tenant_id).values("full_sync_at", "change_cursors").first() or {}
    full_at = state.get("full_sync_at")
    if full_at is None or full_at < timezone.now() - timedelta(minutes=minutes):
        return resources, {}
    # New keys or base URL may be another NCM account: what was mirrored tells nothing about it.
    credential_changed = Credential.objects.filter(tenant_id=run.tenant_id, provider=Provider.NCM).values_list(
        "updated_at", flat=True).first()
    if credential_changed is not None and credential_changed > full_at:
        return resources, {}
    cursors = state.get("change_cursors") or {}
    changed_since = {}
    for model, filters in CHANGE_FILTERS.items():
        keys = [f"{model.RESOURCE}.{name}" for name in filters]
        if all(cursors.get(key) for key in keys):  # no cursor yet (an empty mirror): listed completely
            changed_since[model] = [{name: cursors[key]} for name, key in zip(filters, keys)]
    return [model for model in resources if model is not ConfigurationManager], changed_since


def _run_engine(run: SyncRun, *, workers: int, client) -> SyncRun:
    tenant_id = run.tenant_id
    own_client = client is None
    engine = None
    others: dict = {}
    states_before = None
    try:
        credentials = {c.provider: c for c in Credential.objects.filter(tenant_id=tenant_id)}
        if client is None and Provider.NCM in credentials:
            client = client_for_credential(credentials[Provider.NCM])
        if client is None and not any(p in PROVIDER_SYNCS for p in credentials):
            raise NcmError("This tenant has no NCM credential; add one before syncing.")
        stats = {}
        if client is not None:
            states_before = router_states(tenant_id)
            resources, changed_since = plan_sync(run)
            engine = TenantSync(tenant_id=tenant_id, client=client, workers=workers, resources=resources,
                                 changed_since=changed_since)
            stats = engine.run()
        for provider, credential in sorted(credentials.items()):
            if provider != Provider.NCM and provider in PROVIDER_SYNCS:
                try:
                    others.update(PROVIDER_SYNCS[provider](tenant_id=tenant_id, credential=credential))
                except ProviderSyncError as exc:
                    others.update(exc.figures)
                    raise
    except BaseException as exc:  # noqa: BLE001 - recorded on the run; Celery's own exits re-raised
        if not isinstance(exc, NcmError | RateBudgetTimeout | ProviderSyncError):
            logger.exception("sync of tenant %s failed", tenant_id)
        else:
            logger.warning("sync of tenant %s failed: %s", tenant_id, exc)
        message = _failure_message(exc)
        partial = {name: s.as_dict() for name, s in (engine.stats.items() if engine else [])}
        partial.update(others)
        _finish(run, SyncRunStatus.FAILED, error=message, fields={
            "api_calls": getattr(client, "calls", 0), "resources": partial, **_totals(partial, deleted=False),
        }, tenant={"sync_status": SyncStatus.FAILED, "sync_error": message})
        announce_sync_failed(run)
        if not isinstance(exc, Exception):
            raise
        return run
    finally:
        if own_client and client is not None:
            client.close()
        # A failed run may have written pages before it failed; an unchanged one changed no figure.
        if engine is not None and (engine.stats_written() or not TenantFigures.objects.filter(tenant_id=tenant_id).exists()):
            _refresh_figures(tenant_id)
    figures = {name: s.as_dict() for name, s in stats.items()}
    figures.update(others)
    changed = _changed_resources(stats) if engine is not None else None
    _run_after_sync(tenant_id, changed)
    _finish(run, SyncRunStatus.SUCCEEDED, fields={
        "api_calls": getattr(client, "calls", 0) + sum(f.get("api_calls", 0) for f in others.values()),
        "resources": figures, **_totals(figures)},
        tenant={"sync_status": SyncStatus.SUCCEEDED, "sync_error": "", "last_synced_at": run.started_at})
    if engine is not None:
        _announce_new_alerts(tenant_id, engine, figures)
        if "routers" in changed:  # no router row written: no state crossed online/offline
            announce_router_transitions(tenant_id, states_before)
    return run


def _changed_resources(stats: dict) -> frozenset[str]:
    """The resources whose rows this run wrote (created, updated, tombstoned or linked)."""
    return frozenset(name for name, s in stats.items() if s.wrote)


def _run_after_sync(tenant_id: int, changed: frozenset[str] | None = None) -> None:
    for fn in AFTER_SYNC:
        try:
            fn(tenant_id=tenant_id, changed=changed)
        except Exception:  # noqa: BLE001 - the mirror itself is written; never fail the run for a projection
            logger.exception("after-sync step %s of tenant %s failed", getattr(fn, "__name__", fn), tenant_id)


def _refresh_figures(tenant_id: int) -> None:
    try:
        refresh_tenant_figures([tenant_id])
    except Exception:  # noqa: BLE001 - the overview's figures lag until the next run; never fail a sync for them
        logger.exception("figures of tenant %s not refreshed", tenant_id)


def _announce_new_alerts(tenant_id: int, engine: TenantSync, figures: dict) -> None:
    """`alert.created` for the alerts this run inserted (ncm_sync/events.py; not on a first sync)."""
    if not figures.get("alerts", {}).get("created"):
        return
    try:
        announce_synced_alerts(tenant_id=tenant_id, first_seen_at=engine.now, initial=not engine.alerts_cursor)
    except Exception:  # noqa: BLE001 - the sync itself succeeded; never fail it for a notification
        logger.exception("alert.created events of tenant %s could not be queued", tenant_id)


def _totals(figures: dict, deleted: bool = True) -> dict:
    return {
        "created": sum(f.get("created", 0) for f in figures.values()),
        "updated": sum(f.get("updated", 0) for f in figures.values()),
        "deleted": sum(f.get("deleted", 0) for f in figures.values()) if deleted else 0,
        "unchanged": sum(f.get("unchanged", 0) for f in figures.values()),
    }


# Each tenant has a fixed phase within its interval: id × the golden ratio, modulo 1, spreads any run of ids evenly
# over the interval (a low-discrepancy sequence), so 500 tenants on 15 minutes are due ~0.6 a second, not at once.
_GOLDEN = 0.6180339887498949


def sync_phase_seconds(tenant_id: int, interval_seconds: float) -> float:
    """Where in each interval (seconds past a multiple of the interval, Unix time) the tenant is due."""
    return (tenant_id * _GOLDEN) % 1.0 * interval_seconds


def next_sync_time(tenant: Tenant, now: datetime) -> datetime:
    """When a tenant dispatched at `now` is next due: one interval on, pulled toward its phase.

    On time, the pull is at most min(10 % of the interval, 2 minutes) either way, so the gap between two syncs
    stays within that of the interval and a fleet that started bunched (created together, or all due after an
    outage of the dispatcher) drifts apart within a few intervals. A tenant never scheduled before, or dispatched
    later than that slack, is placed on its phase at once (the next gap is then between half and 1.5 intervals)."""
    interval = tenant.sync_interval_minutes * 60.0
    target = now.timestamp() + interval
    phase = sync_phase_seconds(tenant.pk, interval)
    slot = round((target - phase) / interval) * interval + phase
    slack = min(0.1 * interval, 120.0)
    late = tenant.next_sync_at is None or (now - tenant.next_sync_at).total_seconds() > slack
    pull = interval / 2 if late else slack
    return now + timedelta(seconds=interval + max(-pull, min(pull, slot - target)))


DISPATCHER_LAST_RUN_KEY = "ncm-sync-dispatcher-last-run"


def dispatcher_last_run():
    """When `dispatch_due_syncs` last ran (None: not since the cache was emptied)."""
    stamp = cache.get(DISPATCHER_LAST_RUN_KEY)
    return datetime.fromisoformat(stamp) if stamp else None


def dispatcher_status() -> dict:
    """For /readyz (settings.READYZ_REPORTS): when the dispatcher last ran and whether that is too long ago."""
    limit = float(getattr(settings, "SYNC_DISPATCHER_STALE_SECONDS", 300))
    last = dispatcher_last_run()
    stale = last is None or (timezone.now() - last).total_seconds() > limit
    info = {"last_run_at": last.isoformat() if last else None, "stale": stale}
    if stale:
        info["warning"] = (
            f"No sync dispatcher ran in the last {limit / 60:.0f} minutes, so scheduled syncs are not happening: "
            "run exactly one `celery -A portal beat` and a worker on the interactive queue."
        )
    return info


def dispatch_due_syncs(*, now=None, limit: int = 500) -> list[int]:
    """Fail runs that lost their worker, then request a sync for every tenant whose interval has passed.

    Returns the ids of the tenants whose sync it started."""
    try:
        reap_dead_runs()
    except Exception:  # noqa: BLE001 - never let the sweep stop the schedule
        logger.exception("reaping dead sync runs failed")
    now = now or timezone.now()
    with_credential = Credential.objects.filter(provider__in=[Provider.NCM, *PROVIDER_SYNCS]).values("tenant_id")
    with transaction.atomic():
        # Longest overdue first, never-scheduled tenants before all (PostgreSQL sorts NULLs last otherwise).
        due = list(
            Tenant.objects.select_for_update(skip_locked=True)
            .filter(Q(next_sync_at__lte=now) | Q(next_sync_at__isnull=True), id__in=with_credential)
            .order_by(F("next_sync_at").asc(nulls_first=True), "pk")[:limit]
        )
        for tenant in due:
            tenant.next_sync_at = next_sync_time(tenant, now)
            Tenant.objects.filter(pk=tenant.pk).update(next_sync_at=tenant.next_sync_at)
    started = []
    for tenant in due:
        # A tenant whose sync is still running or queued (slow) keeps that run; one whose request fails is
        # logged and retried next interval: neither holds up the tenants after it.
        try:
            run, created = request_sync(tenant=tenant, trigger=SyncTrigger.SCHEDULE)
        except Exception:  # noqa: BLE001
            logger.exception("scheduled sync of tenant %s could not be requested", tenant.pk)
            continue
        if created:
            started.append(tenant.pk)
    cache.set(DISPATCHER_LAST_RUN_KEY, timezone.now().isoformat(), timeout=None)
    return started


def prune_sync_runs(*, now=None) -> int:
    """Finished sync runs past retention (settings.RETENTION_DAYS["sync_runs"]), in batches."""
    cutoff = retention_cutoff("sync_runs", now)
    if cutoff is None:
        return 0
    return delete_in_batches(SyncRun.objects.filter(created_at__lt=cutoff).exclude(status__in=ACTIVE))
