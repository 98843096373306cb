"""Execution of job items against NCM.

Safety rules (a router must never be rebooted twice):
- an item is claimed and marked `dispatched` in its own committed transaction *before* the NCM call;
- only `pending` items are ever claimed, so a redelivered task, a second worker or a restarted one never
  re-sends a dispatched item;
- an outcome NCM did not confirm (timeout, reset, 5xx) makes the item `unknown`, never a retry; a
  dispatched item whose worker died is reaped to `unknown` after a lease;
- only requests NCM provably refused before acting (429, connection refused) go back to `pending`.

Reboots (NCM's reboot_activity answers 201 whether or not the router gets the command: "If the router is
offline, the request will be lost"):
- a router NCM reports offline is not sent a reboot at all: its item ends `failed` (or `skipped` when the job
  says `offline: "skip"`), saying why;
- an accepted reboot stays `dispatched` (with `ncm_ref` "reboot:<id>") until NCM shows it happened: a
  `reboot_status_change` alert for the router, or its links' uptime restarting after the request. Only then is it
  `succeeded`. Without such evidence within JOBS_REBOOT_CONFIRM_SECONDS it ends `failed` when the router is
  offline by then (NCM dropped it), else `unknown`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Credential
from jobs import services
from jobs.concurrency import TenantSlots
from jobs.firmware import FIRMWARE_REF
from jobs.leases import extend_job_lease, item_heartbeat
from jobs.models import ItemStatus, Job, JobItem, JobKind, JobStatus, SpeedTestResult
from ncm_sync.client import (
    NcmAmbiguousWriteError,
    NcmError,
    NcmRateLimited,
    NcmUnavailable,
    client_for_credential,
)
from ncm_sync.models import ConfigurationManager, NetDevice, ncm_ref
from ncm_sync.services.configuration import store_configuration_managers
from portal.tasks import enqueue

logger = logging.getLogger(__name__)

__all__ = ["run_job", "reap_stale_items", "run_speed_test", "poll_speed_test", "resume_stalled_jobs"]

# A dispatched item older than this has lost its worker: its outcome is unknown.
DISPATCH_LEASE = timedelta(
    seconds=getattr(settings, "JOBS_DISPATCH_LEASE_SECONDS", None) or settings.NCM_CONNECT_TIMEOUT + settings.NCM_READ_TIMEOUT + 30
)
# Requests NCM refused before acting (429, connection refused) go back to pending at most this often.
MAX_REQUEUES = 5
SPEED_TEST_CHUNK = 10_000
SPEED_TEST_TIMEOUT = timedelta(minutes=20)
REBOOT_REF = "reboot:"  # ncm_ref of a reboot NCM accepted, awaiting evidence that it happened
ROUTER_STATE_MAX_AGE = 60  # seconds a bulk read of routers' states is trusted before a reboot is sent
CONFIRM_INLINE_SECONDS = 10  # a drainer waits this long in place for quick reboots before rescheduling itself
CONFIRM_DURING_SENDING_SECONDS = 30  # while a long reboot job is being sent, check NCM's alerts this often
CONFIRM_LOCK_SECONDS = 30  # one drainer checks a job's reboots at a time; a dead one's turn passes after this
CONFIRM_RETRY_SECONDS = 10.0  # a drainer that found another checking comes back this much later


def reboot_confirm_timeout() -> timedelta:
    """How long an accepted reboot may take to show in NCM (default 10 minutes)."""
    seconds = getattr(settings, "JOBS_REBOOT_CONFIRM_SECONDS", None) or os.environ.get("JOBS_REBOOT_CONFIRM_SECONDS")
    return timedelta(seconds=float(seconds or 600))


def _client(job: Job):
    credential = Credential.objects.filter(tenant_id=job.tenant_id, provider="ncm").first()
    if credential is None:
        return None
    return client_for_credential(credential)


def _claim_next(job_id: int) -> JobItem | None:
    """Take the next pending item and mark it dispatched, committed before anything is sent."""
    with transaction.atomic():
        job_status, wave = Job.objects.filter(pk=job_id).values_list("status", "current_wave").first() or (None, 0)
        if job_status != JobStatus.RUNNING:
            return None
        item = (
            JobItem.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("router", "group", "job", "device")
            .filter(job_id=job_id, status=ItemStatus.PENDING, wave__lte=wave)
            .order_by("id")
            .first()
        )
        if item is None:
            return None
        item.status, item.dispatched_at = ItemStatus.DISPATCHED, timezone.now()
        item.save(update_fields=["status", "dispatched_at"])
        return item


def _record(item: JobItem, status: str, *, error: str = "", result=None) -> None:
    """Record an outcome, unless the item was meanwhile settled (a reaped item accepts its real outcome)."""
    JobItem.objects.filter(pk=item.pk, status__in=[ItemStatus.DISPATCHED, ItemStatus.UNKNOWN]).update(
        status=status, error=error[:4000], result=result, finished_at=timezone.now()
    )
    services.job_update_counts(item.job_id)


def _requeue(item: JobItem, reason: str) -> bool:
    """Put an item NCM refused before acting back to pending; False once it has been requeued enough."""
    requeues = (item.result or {}).get("requeues", 0) + 1
    if requeues > MAX_REQUEUES:
        return False
    JobItem.objects.filter(pk=item.pk, status=ItemStatus.DISPATCHED).update(
        status=ItemStatus.PENDING, dispatched_at=None, result={"requeues": requeues, "last": reason}
    )
    return True


class _NotSent(Exception):
    """NCM would drop the request (the router is offline): nothing was sent."""

    def __init__(self, state: str):
        super().__init__(state)
        self.state = state


class _RouterStates:
    """NCM's current state of the job's routers, read in bulk (`id__in`, 100 a call) just before reboots are sent."""

    def __init__(self, client, job_id: int):
        self.client, self.job_id = client, job_id
        self.states: dict[str, tuple[str | None, float]] = {}

    def get(self, item: JobItem) -> str | None:
        ncm_id = str(item.router.ncm_id)
        known = self.states.get(ncm_id)
        if known is None or time.monotonic() - known[1] > ROUTER_STATE_MAX_AGE:
            upcoming = (
                JobItem.objects.filter(job_id=self.job_id, status=ItemStatus.PENDING, router__isnull=False)
                .order_by("id").values_list("router__ncm_id", flat=True)[:99]
            )
            ids = list(dict.fromkeys([ncm_id, *map(str, upcoming)]))
            now = time.monotonic()
            for ref in ids:
                self.states[ref] = (None, now)  # not listed: NCM does not know it (the request will say so)
            for row in self.client.list("routers", id__in=ids, fields="id,state"):
                self.states[str(row.get("id"))] = (row.get("state"), now)
        return self.states[ncm_id][0]


def _send(client, item: JobItem, states: _RouterStates | None = None) -> dict | None:
    job = item.job
    if job.kind == JobKind.REBOOT:
        state = states.get(item) if states is not None else None
        if state is not None and state != "online":
            raise _NotSent(state)
        response = client.post("reboot_activity", {"router": client.url_for("routers", item.router.ncm_id)})
        return {"reboot_activity": response}
    if job.kind == JobKind.CONFIG_PUSH:
        body = {"configuration": job.parameters["diff"]}
        write = client.patch if job.parameters.get("mode", "patch") == "patch" else client.put
        if item.group_id:
            response = write("groups", item.group.ncm_id, body)
        else:
            manager_id = _configuration_manager_id(client, item)
            response = write("configuration_managers", manager_id, body)
        version = response.get("version_number") if isinstance(response, dict) else None
        return {"version_number": version}
    if job.kind == JobKind.FIRMWARE_UPGRADE:
        return _set_group_target(client, item)
    raise ValueError(f"{job.kind} items are not sent one by one")


def _set_group_target(client, item: JobItem) -> dict:
    """Set the router's group's target firmware in NCM, once per group per job (the job's row lock orders the
    drainers; a later item of the same group finds it done). The PATCH is idempotent, and an ambiguous answer
    is settled by reading the group back (a safe read), never by sending again blindly."""
    group = item.router.group if item.router_id else None
    if group is None:
        raise NcmError("The router is no longer in a group: NCM upgrades routers through their group's target firmware.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=item.job_id)
        wanted = (job.parameters.get("groups") or {}).get(group.ncm_id)
        if wanted is None:
            raise NcmError(f"The router moved to group {group.name!r} after the job was created; its firmware was not resolved.")
        sent = (job.parameters.get("sent") or {}).get(group.ncm_id)
        if sent is None:
            url = client.url_for("firmwares", wanted["firmware"])
            try:
                client.patch("groups", group.ncm_id, {"target_firmware": url})
            except NcmAmbiguousWriteError as ambiguous:
                try:
                    current = client.get("groups", group.ncm_id)
                except NcmError:
                    raise ambiguous from None
                if ncm_ref((current or {}).get("target_firmware")) != wanted["firmware"]:
                    raise
            sent = timezone.now().isoformat()
            job.parameters = {**job.parameters, "sent": {**(job.parameters.get("sent") or {}), group.ncm_id: sent}}
            job.save(update_fields=["parameters"])
            services.job_log(job, f"Group {group.name!r}: target firmware set to {wanted['version']} (NCM firmware "
                                  f"{wanted['firmware']}); its routers upgrade as they come online.")
    return {"group": group.ncm_id, "firmware": wanted["firmware"], "version": wanted["version"], "target_set_at": sent}


def _configuration_manager_id(client, item: JobItem) -> str:
    """The router's configuration manager id: mirrored, else looked up. Never assumed to be the router id."""
    mirrored = (
        ConfigurationManager.objects.filter(tenant_id=item.tenant_id, router_id=item.router_id, deleted_at__isnull=True)
        .values_list("ncm_id", flat=True).first()
    )
    if mirrored:
        return mirrored
    found = client.list("configuration_managers", **{"router.id": item.router.ncm_id, "fields": "id,router"})
    found = [cm for cm in found if str(cm.get("router", "")).rstrip("/").rsplit("/", 1)[-1] == str(item.router.ncm_id)] or found
    if len(found) != 1:
        raise NcmError(f"NCM has no single configuration manager for router {item.router.ncm_id}.")
    return str(found[0]["id"])


def run_job(job_id: int, *, max_seconds: float = 240) -> float | None:
    """Work through a job's pending items inside the tenant's in-flight cap.

    Returns None when there is nothing left for this drainer, else the seconds after which to run again:
    soon when items remain (the cap was full or the time was used), or when the oldest item in flight
    elsewhere would be reaped, so a job never waits for the periodic sweep to finish.
    """
    job = Job.objects.select_related("tenant").get(pk=job_id)
    if job.kind == JobKind.SPEED_TEST:
        run_speed_test(job_id)
        return rollout_step(_client(job), job_id)
    client = _client(job)
    if client is None and not (job.target_device_ids and not job.target_router_ids and not job.target_group_ids):
        _fail_all_pending(job, "The tenant has no NCM credential.")
        services.job_finish_if_done(job_id)
        return None
    slots = TenantSlots(job.tenant_id)
    deadline = time.monotonic() + max_seconds
    states = _RouterStates(client, job_id) if job.kind == JobKind.REBOOT else None
    confirm_delay = None
    next_confirm = time.monotonic() + CONFIRM_DURING_SENDING_SECONDS
    with client or contextlib.nullcontext():
        while time.monotonic() < deadline:
            slot = slots.acquire()
            if slot is None:
                return 1.0  # the tenant's cap is in use: come back shortly
            try:
                item = _claim_next(job_id)
                if item is None:
                    break
                with item_heartbeat(item.pk, lease_seconds=DISPATCH_LEASE.total_seconds()):
                    _run_item(client, item, states)
            finally:
                slots.release(slot)
            if states is not None and time.monotonic() >= next_confirm:
                confirm_reboots(client, job, wait=False)  # a long job shows its confirmed reboots as it goes
                next_confirm = time.monotonic() + CONFIRM_DURING_SENDING_SECONDS
        else:
            return 0.0
        if job.kind == JobKind.REBOOT:
            confirm_delay = confirm_reboots(client, job, deadline=deadline)
        elif job.kind == JobKind.FIRMWARE_UPGRADE:
            confirm_delay = confirm_upgrades(client, job)
    reap_stale_items(job_id)
    wave_delay = rollout_step(client, job_id)  # a staged rollout: open the next wave, soak, or halt
    finished = services.job_finish_if_done(job_id)
    if finished is not None and finished.kind == JobKind.CONFIG_PUSH:
        refresh_pushed_configuration(finished)
    if JobItem.objects.filter(job_id=job_id, status=ItemStatus.PENDING, job__status=JobStatus.RUNNING,
                              wave__lte=F("job__current_wave")).exists():
        return 0.0
    oldest = (
        JobItem.objects.filter(job_id=job_id, status=ItemStatus.DISPATCHED, ncm_ref="")
        .order_by("dispatched_at").values_list("dispatched_at", flat=True).first()
    )
    lease_delay = max(1.0, (oldest + DISPATCH_LEASE - timezone.now()).total_seconds() + 1) if oldest else None
    delays = [d for d in (lease_delay, confirm_delay, wave_delay) if d is not None]
    return min(delays) if delays else None


#
# Staged rollouts (jobs.services holds the halt/advance decision; here: the soak against NCM's device health)
#
def rollout_step(client, job_id: int) -> float | None:
    """When the current wave of a rollout has ended: wait out `pause_minutes` (returns the seconds left), then
    check the wave's succeeded routers are still online in NCM (one offline now counts as a failure), then halt
    or open the next wave (returns 0.0: drain again). None when there is nothing to do here."""
    job = Job.objects.get(pk=job_id)
    if not job.rollout or job.status != JobStatus.RUNNING or not services.rollout_wave_ended(job):
        return None
    pause = float(job.rollout.get("pause_minutes") or 0) * 60
    if pause:
        if job.wave_ended_at is None:
            Job.objects.filter(pk=job_id, wave_ended_at__isnull=True, current_wave=job.current_wave).update(
                wave_ended_at=timezone.now())
            job.refresh_from_db(fields=["wave_ended_at"])
            services.job_log(job, f"Wave {job.current_wave + 1} ended; soaking {job.rollout['pause_minutes']:g} min "
                                  "before the next wave.")
        left = (job.wave_ended_at + timedelta(seconds=pause) - timezone.now()).total_seconds()
        if left > 0:
            return max(0.5, left)
        if client is not None and _soak_check(client, job) is None:
            return 10.0  # NCM did not answer: the wave's health is not known yet; read again shortly
    return 0.0 if services.rollout_next_wave(job_id) else None


def _soak_check(client, job: Job) -> int | None:
    """Routers of the current wave whose items succeeded but that NCM now shows offline: their items fail."""
    items = list(JobItem.objects.filter(job_id=job.pk, wave=job.current_wave, status=ItemStatus.SUCCEEDED,
                                        router__isnull=False).select_related("router"))
    if not items:
        return 0
    ids = [str(item.router.ncm_id) for item in items]
    states: dict[str, str | None] = {}
    try:
        with client:
            for start in range(0, len(ids), 100):
                for row in client.list("routers", id__in=ids[start:start + 100], fields="id,state"):
                    states[str(row.get("id"))] = row.get("state")
    except NcmError as exc:
        # No health reading: the wave's health is unknown; the next attempt reads again.
        services.job_log(job, f"Soak check of wave {job.current_wave + 1} could not read NCM: {exc.message}", level="warning")
        return None
    failed = 0
    minutes = job.rollout.get("pause_minutes") or 0
    for item in items:
        state = states.get(str(item.router.ncm_id), "missing")
        if state != "online":
            failed += JobItem.objects.filter(pk=item.pk, status=ItemStatus.SUCCEEDED).update(
                status=ItemStatus.FAILED, result={**(item.result or {}), "soak_state": state},
                error=f"Succeeded, then the router was {state} in NCM at the end of the {minutes:g} min soak "
                      "after its wave: counted as a failure.")
    if failed:
        services.job_update_counts(job.pk)
        services.job_log(job, f"Soak check of wave {job.current_wave + 1}: {failed} router(s) went offline after "
                              "their item succeeded.", level="warning")
    return failed


def _run_item(client, item: JobItem, states: _RouterStates | None = None) -> None:
    if item.device_id:  # another provider's device (ecCloud): its provider runs it (jobs.devices)
        from jobs.devices import run_device_item

        status, error, result = run_device_item(item)
        _record(item, status, error=error, result=result)
        return
    try:
        result = _send(client, item, states)
    except _NotSent as exc:
        if (item.job.parameters or {}).get("offline") == "skip":
            _record(item, ItemStatus.SKIPPED, result={"router_state": exc.state},
                    error=f"Skipped: the router is {exc.state} in NCM and this job skips offline routers. Nothing was sent.")
        else:
            _record(item, ItemStatus.FAILED, result={"router_state": exc.state},
                    error=f"Not rebooted: the router is {exc.state} in NCM, and NCM drops reboot requests for routers "
                          "that are not online, so none was sent.")
        return
    except NcmAmbiguousWriteError as exc:
        _record(item, ItemStatus.UNKNOWN, error=f"{exc.message}. Not retried: check the device before retrying.")
    except (NcmRateLimited, NcmUnavailable) as exc:
        if not _requeue(item, exc.message):
            _record(item, ItemStatus.FAILED, error=exc.message)
        elif isinstance(exc, NcmRateLimited):
            time.sleep(1)
    except NcmError as exc:
        _record(item, ItemStatus.FAILED, error=exc.message)  # NCM's own words (400/403/409...)
    else:
        if item.job.kind == JobKind.FIRMWARE_UPGRADE:
            # The group's target is set: the item waits for NCM to show the router running it (confirm_upgrades).
            JobItem.objects.filter(pk=item.pk, status__in=[ItemStatus.DISPATCHED, ItemStatus.UNKNOWN]).update(
                status=ItemStatus.DISPATCHED, ncm_ref=(FIRMWARE_REF + result["firmware"])[:64], result=result,
            )
            return
        if item.job.kind == JobKind.REBOOT:
            # Accepted is not done: the item waits for NCM to show the reboot (confirm_reboots).
            request_id = str(((result or {}).get("reboot_activity") or {}).get("id") or "")
            JobItem.objects.filter(pk=item.pk, status__in=[ItemStatus.DISPATCHED, ItemStatus.UNKNOWN]).update(
                status=ItemStatus.DISPATCHED, ncm_ref=(REBOOT_REF + request_id)[:64], result=result,
            )
            return
        _record(item, ItemStatus.SUCCEEDED, result=result)


#
# Reboot confirmation: NCM's evidence that an accepted reboot reached the router.
#
def _ncm_time(value) -> datetime | None:
    from django.utils.dateparse import parse_datetime

    try:
        parsed = parse_datetime(str(value).replace(" ", "T", 1)) if value else None
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt_timezone.utc)
    return parsed


def _reboot_evidence(client, awaiting: list[JobItem], *, uptime: bool = True) -> dict[int, dict]:
    """Item id -> how NCM shows its router rebooted after the request: a reboot_status_change alert, or (with
    `uptime`) the router's connected links' uptime restarting (shorter than the time since the request)."""
    by_router: dict[str, JobItem] = {str(item.router.ncm_id): item for item in awaiting}
    found: dict[int, dict] = {}
    since = min(item.dispatched_at for item in awaiting) - timedelta(seconds=2)
    ids = list(by_router)
    for start in range(0, len(ids), 200):  # /alerts/ has no 100-value limit on __in; keep URLs short anyway
        for alert in client.list("alerts", type="reboot_status_change", router__in=ids[start:start + 200],
                                 created_at__gt=since.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")):
            item = by_router.get(ncm_ref(alert.get("router")))
            at = _ncm_time(alert.get("created_at"))
            if item is None or item.pk in found or at is None or at < item.dispatched_at - timedelta(seconds=2):
                continue
            found[item.pk] = {"confirmed_by": "reboot_status_change alert", "confirmed_at": at.isoformat(),
                              "message": alert.get("friendly_info") or "Device has rebooted."}
    rest = [ref for ref in ids if by_router[ref].pk not in found] if uptime else []
    now = timezone.now()
    for start in range(0, len(rest), 100):
        for device in client.list("net_devices", router__in=rest[start:start + 100], fields="id,router,uptime,connection_state"):
            item = by_router.get(ncm_ref(device.get("router")))
            uptime = device.get("uptime")
            if item is None or item.pk in found or uptime is None or device.get("connection_state") != "connected":
                continue
            try:
                uptime = float(uptime)
            except (TypeError, ValueError):
                continue
            if uptime < (now - item.dispatched_at).total_seconds():
                found[item.pk] = {"confirmed_by": "uptime", "confirmed_at": (now - timedelta(seconds=uptime)).isoformat(),
                                  "message": f"The router's link came back {uptime:.0f} s ago: its uptime restarted after the reboot request."}
    return found


def _confirm_delay(awaiting: list[JobItem]) -> float:
    age = (timezone.now() - min(item.dispatched_at for item in awaiting)).total_seconds()
    return 1.0 if age < 20 else 10.0 if age < 120 else 30.0


def _settle_unconfirmed(client, job: Job, expired: list[JobItem]) -> None:
    minutes = reboot_confirm_timeout().total_seconds() / 60
    states: dict[str, str | None] = {}
    ids = [str(item.router.ncm_id) for item in expired]
    try:
        for start in range(0, len(ids), 100):
            for row in client.list("routers", id__in=ids[start:start + 100], fields="id,state"):
                states[str(row.get("id"))] = row.get("state")
    except NcmError as exc:
        logger.info("Router states for unconfirmed reboots of job %s not read: %s", job.pk, exc.message)
    for item in expired:
        state = states.get(str(item.router.ncm_id))
        result = {**(item.result or {}), "router_state": state}
        if state and state != "online":
            _record(item, ItemStatus.FAILED, result=result, error=(
                f"Not rebooted: NCM accepted the request but the router is {state}, and NCM drops reboot requests "
                f"for routers that are not online; no reboot showed in NCM within {minutes:g} min."))
        else:
            _record(item, ItemStatus.UNKNOWN, result=result, error=(
                f"NCM accepted the request but showed no reboot within {minutes:g} min (no reboot alert, the "
                "router's uptime did not restart). Check the router before retrying."))


def confirm_reboots(client, job: Job, *, deadline: float | None = None, wait: bool = True) -> float | None:
    """Settle the job's accepted reboots from NCM's evidence. Returns the seconds until the next check, or None
    when none await. With `wait`, waits in place while the next check is due
    within seconds (quick reboots settle without rescheduling)."""
    lock, token = f"jobs:confirm:{job.pk}", uuid.uuid4().hex
    if not cache.add(lock, token, CONFIRM_LOCK_SECONDS):
        # Another drainer is checking, or was and died holding the turn: come back, and take over once it passes.
        waiting = JobItem.objects.filter(job_id=job.pk, status=ItemStatus.DISPATCHED, ncm_ref__startswith=REBOOT_REF)
        return CONFIRM_RETRY_SECONDS if waiting.exists() else None
    try:
        inline_until = time.monotonic() + CONFIRM_INLINE_SECONDS
        while True:
            awaiting = list(
                JobItem.objects.filter(job_id=job.pk, status=ItemStatus.DISPATCHED, ncm_ref__startswith=REBOOT_REF)
                .select_related("router")
            )
            if not awaiting:
                return None
            try:
                # While a job is still being sent, only the cheap evidence (alerts: 1 call per 200 routers).
                evidence = _reboot_evidence(client, awaiting, uptime=wait)
            except NcmError as exc:
                logger.info("Reboot confirmation of job %s postponed: %s", job.pk, exc.message)
                evidence = {}
            for item in awaiting:
                if item.pk in evidence:
                    _record(item, ItemStatus.SUCCEEDED, result={**(item.result or {}), **evidence[item.pk]})
            cutoff = timezone.now() - reboot_confirm_timeout()
            expired = [item for item in awaiting if wait and item.pk not in evidence and item.dispatched_at < cutoff]
            if expired:
                _settle_unconfirmed(client, job, expired)
            remaining = [item for item in awaiting if item.pk not in evidence and item not in expired]
            if not remaining:
                return None
            delay = _confirm_delay(remaining)
            now = time.monotonic()
            if not wait or now + delay > inline_until or (deadline is not None and now + delay > deadline):
                return delay
            time.sleep(delay)
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)


def confirm_upgrades(client, job: Job) -> float | None:
    """Settle the job's routers awaiting their group's target firmware from NCM: `actual_firmware` equal to the
    target -> succeeded; a `firmware_upgrade` alert saying it failed -> failed (NCM's words); past
    `timeout_minutes` -> unknown (saying whether the router is offline). Returns the seconds until the next
    check (growing with the wait, within the rate budget: one call per 100 routers), or None when none await."""
    lock, token = f"jobs:confirm-fw:{job.pk}", uuid.uuid4().hex
    awaiting_q = JobItem.objects.filter(job_id=job.pk, status=ItemStatus.DISPATCHED, ncm_ref__startswith=FIRMWARE_REF)
    if not cache.add(lock, token, CONFIRM_LOCK_SECONDS):
        return CONFIRM_RETRY_SECONDS if awaiting_q.exists() else None
    try:
        awaiting = list(awaiting_q.select_related("router"))
        if not awaiting:
            return None
        by_router = {str(item.router.ncm_id): item for item in awaiting if item.router_id}
        ids = list(by_router)
        rows: dict[str, dict] = {}
        failures: dict[str, dict] = {}
        try:
            for start in range(0, len(ids), 100):
                for row in client.list("routers", id__in=ids[start:start + 100], fields="id,state,actual_firmware"):
                    rows[str(row.get("id"))] = row
            since = min(item.dispatched_at for item in awaiting) - timedelta(seconds=2)
            for start in range(0, len(ids), 200):
                for alert in client.list("alerts", type="firmware_upgrade", router__in=ids[start:start + 200],
                                         created_at__gt=since.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")):
                    info = alert.get("info") if isinstance(alert.get("info"), dict) else {}
                    if info.get("success") is False:
                        failures[ncm_ref(alert.get("router"))] = alert
        except NcmError as exc:
            logger.info("Firmware confirmation of job %s postponed: %s", job.pk, exc.message)
            return 30.0
        timeout = timedelta(minutes=float(job.parameters.get("timeout_minutes") or 60))
        now, remaining = timezone.now(), []
        for ncm_id, item in by_router.items():
            row, target = rows.get(ncm_id), item.ncm_ref[len(FIRMWARE_REF):]
            version = (item.result or {}).get("version") or job.parameters.get("version")
            if row is not None and ncm_ref(row.get("actual_firmware")) == target:
                _record(item, ItemStatus.SUCCEEDED, result={**(item.result or {}), "actual_firmware": target,
                                                            "message": f"NCM shows the router running {version}."})
            elif ncm_id in failures:
                alert = failures[ncm_id]
                info = alert.get("info") or {}
                words = alert.get("friendly_info") or "The firmware upgrade failed."
                if info.get("error") and str(info["error"]) not in words:
                    words += f" ({info['error']})"
                _record(item, ItemStatus.FAILED, error=words, result={**(item.result or {}), "alert": info})
            elif row is None:
                _record(item, ItemStatus.FAILED, error="NCM no longer lists this router.", result=item.result)
            elif now - item.dispatched_at > timeout:
                state = row.get("state")
                minutes = timeout.total_seconds() / 60
                _record(item, ItemStatus.UNKNOWN, result={**(item.result or {}), "router_state": state}, error=(
                    f"The router was not online ({state}) in NCM and did not show firmware {version} within {minutes:g} min; it upgrades "
                    "when it next comes online (NCM keeps its group's target)." if state != "online" else
                    f"NCM showed neither firmware {version} on the router nor a failed upgrade within {minutes:g} min."))
            else:
                remaining.append(item)
        if not remaining:
            return None
        age = (now - min(item.dispatched_at for item in remaining)).total_seconds()
        return 2.0 if age < 30 else 10.0 if age < 300 else 60.0
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)


def refresh_pushed_configuration(job: Job) -> int:
    """When a config push finishes, re-read from NCM what it changed (the routers' configuration managers, the
    groups) into the mirror, so pages show the pushed configuration now, not after the next sync. Returns the
    number of rows written; a failure is logged, never raised (the next sync brings the same)."""
    from ncm_sync.services.sync import content_hash

    items = list(
        JobItem.objects.filter(job=job, status__in=[ItemStatus.SUCCEEDED, ItemStatus.UNKNOWN])  # unknown may have applied
        .select_related("router", "group")
    )
    routers = {str(i.router.ncm_id): i.router_id for i in items if i.router_id}
    groups = {str(i.group.ncm_id): i.group_id for i in items if i.group_id}
    if not routers and not groups:
        return 0
    client = _client(job)
    if client is None:
        return 0
    now, written = timezone.now(), 0
    try:
        with client:
            managers, group_rows = [], []
            router_ids, group_ids = list(routers), list(groups)
            for start in range(0, len(router_ids), 100):
                managers += client.list("configuration_managers", router__in=router_ids[start:start + 100])
            for start in range(0, len(group_ids), 100):
                group_rows += client.list("groups", id__in=group_ids[start:start + 100])
    except NcmError as exc:
        logger.info("Configuration of job %s not refreshed (the next sync will): %s", job.pk, exc.message)
        services.job_log(job, f"The portal's copy of the pushed configuration is refreshed at the next sync ({exc.message}).",
                         level="warning")
        return 0
    written += store_configuration_managers(tenant_id=job.tenant_id, managers=managers, routers=routers, now=now)
    from ncm_sync.models import Group

    for obj in group_rows:
        if str(obj.get("id")) in groups:
            written += Group.objects.filter(tenant_id=job.tenant_id, ncm_id=str(obj["id"])).update(
                data=obj, content_hash=content_hash(obj), last_seen_at=now, deleted_at=None,
            )
    return written


def _fail_all_pending(job: Job, message: str) -> None:
    JobItem.objects.filter(job=job, status=ItemStatus.PENDING).update(
        status=ItemStatus.FAILED, error=message, finished_at=timezone.now()
    )


def reap_stale_items(job_id: int) -> int:
    """Dispatched items whose worker died: their outcome is unknown (never re-sent)."""
    now = timezone.now()
    # Items with an NCM reference (a running speed test) are NCM's to finish; the poller times them out.
    # An item's worker beats its lease while it lives (jobs.sweep.item_heartbeat); never beaten: the claim.
    reaped = JobItem.objects.filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, dispatched_at__lt=now - DISPATCH_LEASE),
        job_id=job_id, status=ItemStatus.DISPATCHED, ncm_ref="",
    ).update(
        status=ItemStatus.UNKNOWN, finished_at=timezone.now(),
        error="The worker sending this request stopped; NCM may or may not have acted. Not retried.",
    )
    if reaped:
        services.job_update_counts(job_id)
    return reaped


def resume_stalled_jobs(*, unattended_only: bool = False) -> int:
    """Beat and worker start-up: start due scheduled jobs, re-drive running ones, reap lost items.

    With `unattended_only` (beat's sweep), a job whose lease is live (its tasks beat it: jobs.sweep) is left
    to them; a worker start-up re-drives every job (its predecessor's tasks may be gone)."""
    services.start_due_jobs()
    resumed, now = 0, timezone.now()
    for job in Job.objects.filter(status__in=[JobStatus.RUNNING, JobStatus.CANCELLED], finished_at__isnull=True):
        reap_stale_items(job.pk)
        if unattended_only and job.lease_until is not None and job.lease_until > now:
            pass  # live work holds it
        elif job.kind == JobKind.SPEED_TEST:
            _resume_speed_test(job)
            extend_job_lease(job.pk)
        elif (job.status == JobStatus.RUNNING and JobItem.objects.filter(job=job, status=ItemStatus.PENDING).exists()) or (
            job.kind in (JobKind.REBOOT, JobKind.FIRMWARE_UPGRADE)
            and JobItem.objects.filter(job=job, status=ItemStatus.DISPATCHED)
            .filter(Q(ncm_ref__startswith=REBOOT_REF) | Q(ncm_ref__startswith=FIRMWARE_REF)).exists()
        ):
            enqueue(services.RUN_JOB_TASK, job.pk)  # items to send, or accepted reboots to confirm
            extend_job_lease(job.pk)  # the queued drainer holds it now
            resumed += 1
        services.job_finish_if_done(job.pk)
    return resumed


#
# Speed tests: NCM runs them as its own jobs (up to 10,000 net devices each); we poll until complete.
#
_THROUGHPUT = re.compile(r"(Download|Upload) Throughput:\s*([\d.]+)\s*Mbps", re.I)
_LATENCY = re.compile(r"(?:Latency|RTT)[^:\d]*:\s*([\d.]+)\s*ms", re.I)


def _parse_result(text: str) -> dict:
    figures = {}
    for direction, value in _THROUGHPUT.findall(text or ""):
        figures[f"{direction.lower()}_mbps"] = float(value)
    latency = _LATENCY.search(text or "")
    if latency:
        figures["latency_ms"] = float(latency.group(1))
    return figures


def run_speed_test(job_id: int) -> None:
    """Start NCM speed_test jobs for the targets' modems, chunked at NCM's 10,000-device limit."""
    job = Job.objects.select_related("tenant").get(pk=job_id)
    client = _client(job)
    if client is None:
        _fail_all_pending(job, "The tenant has no NCM credential.")
        services.job_finish_if_done(job_id)
        return
    with transaction.atomic():
        items = list(
            JobItem.objects.select_for_update(skip_locked=True, of=("self",)).select_related("router", "router__account")
            .filter(job_id=job_id, status=ItemStatus.PENDING, wave__lte=job.current_wave)
        )
        if not items or Job.objects.get(pk=job_id).status != JobStatus.RUNNING:
            return
        modems = NetDevice.objects.filter(
            tenant_id=job.tenant_id, router_id__in=[i.router_id for i in items], deleted_at__isnull=True, mode="wan"
        ).exclude(type="ethernet").values_list("router_id", "ncm_id", "account_ncm_id")
        by_router: dict[int, list[tuple[str, str]]] = {}
        for router_id, ncm_id, account in modems:
            by_router.setdefault(router_id, []).append((ncm_id, account))
        batches: dict[str, list[JobItem]] = {}
        now = timezone.now()
        for item in items:
            if item.router_id not in by_router:
                item.status, item.finished_at, item.error = ItemStatus.SKIPPED, now, "No cellular modem to test."
            else:
                account = by_router[item.router_id][0][1] or (item.router.account.ncm_id if item.router.account else "")
                batches.setdefault(account, []).append(item)
                item.status, item.dispatched_at = ItemStatus.DISPATCHED, now
        JobItem.objects.bulk_update(items, ["status", "finished_at", "error", "dispatched_at"])
    services.job_update_counts(job_id)

    with client:
        for account, account_items in batches.items():
            devices = [(item, ncm_id) for item in account_items for ncm_id, _ in by_router[item.router_id]]
            for start in range(0, len(devices), SPEED_TEST_CHUNK):
                chunk = devices[start:start + SPEED_TEST_CHUNK]
                chunk_items = list({item.pk: item for item, _ in chunk}.values())
                config = {key: value for key, value in job.parameters.items() if key != "test_types"}
                started, problems = [], []
                # NCM runs one test type per speed_test job: one job per type asked for (download, upload, latency).
                for test_type in _speed_test_types(job):
                    body = {
                        "account": client.url_for("accounts", account),
                        "config": {**config, "test_type": test_type,
                                   "net_device_ids": [int(n) if str(n).isdigit() else n for _, n in chunk]},
                    }
                    try:
                        created = client.post("speed_test", body)
                    except NcmAmbiguousWriteError as exc:
                        problems.append((ItemStatus.UNKNOWN, f"{test_type}: {exc.message}. Not retried."))
                        continue
                    except NcmError as exc:
                        problems.append((ItemStatus.FAILED, f"{test_type}: {exc.message}"))
                        continue
                    started.append(str(created.get("id")))
                    services.job_log(job, f"NCM speed_test {started[-1]} ({test_type}) started for {len(chunk)} modem(s).")
                if not started:
                    unknown = any(status == ItemStatus.UNKNOWN for status, _ in problems)
                    message = "; ".join(m for _, m in problems) if len(problems) > 1 else problems[0][1].split(": ", 1)[1]
                    _settle(chunk_items, ItemStatus.UNKNOWN if unknown else ItemStatus.FAILED, message)
                    continue
                JobItem.objects.filter(pk__in=[i.pk for i in chunk_items]).update(
                    ncm_ref=",".join(started)[:64], result={"not_started": [m for _, m in problems]} if problems else None,
                )
                for test_id in started:
                    enqueue(services.POLL_SPEED_TEST_TASK, job_id, test_id, 0, countdown=2)
    services.job_finish_if_done(job_id)


def _settle(items: list[JobItem], status: str, error: str) -> None:
    JobItem.objects.filter(pk__in=[i.pk for i in items], status=ItemStatus.DISPATCHED).update(
        status=status, error=error[:4000], finished_at=timezone.now()
    )
    if items:
        services.job_update_counts(items[0].job_id)


def _speed_test_types(job: Job) -> list[str]:
    return list(job.parameters.get("test_types") or [job.parameters.get("test_type") or services.SPEED_TEST_TYPES[0]])


def _with_ref(test_id: str) -> Q:
    """Items whose ncm_ref (NCM speed_test ids, comma-separated: one per test type) names `test_id`."""
    return (Q(ncm_ref=test_id) | Q(ncm_ref__startswith=f"{test_id},") | Q(ncm_ref__endswith=f",{test_id}")
            | Q(ncm_ref__contains=f",{test_id},"))


def _merge_modems(before: list[dict], new: list[dict]) -> list[dict]:
    """One entry per modem across a router's tests: every figure measured, NCM's messages, failed if any failed."""
    merged = {m.get("net_device"): dict(m) for m in before}
    for outcome in new:
        current = merged.get(outcome.get("net_device"))
        if current is None:
            merged[outcome.get("net_device")] = dict(outcome)
            continue
        for key in ("download_mbps", "upload_mbps", "latency_ms"):
            if outcome.get(key) is not None:
                current[key] = outcome[key]
        if outcome.get("state") != "success":
            current["state"] = outcome.get("state")
        current["message"] = " | ".join(m for m in (current.get("message"), outcome.get("message")) if m)[:1500]
    return list(merged.values())


def poll_speed_test(job_id: int, test_id: str, attempt: int) -> float | None:
    """Read an NCM speed_test job; store results when complete. Returns the next poll delay, or None.
    A router's item ends once every test of its job (one per test type) has."""
    job = Job.objects.get(pk=job_id)
    items = [
        item for item in JobItem.objects.filter(_with_ref(test_id), job_id=job_id, status=ItemStatus.DISPATCHED)
        if test_id not in (item.result or {}).get("tests_done", [])
    ]
    if not items:
        return None
    started = min(i.dispatched_at for i in items)
    client = _client(job)
    try:
        with client:
            state = client.get("speed_test", test_id)
    except NcmError as exc:
        logger.info("Speed test %s poll failed: %s", test_id, exc.message)
        state = None
    if not state or state.get("state") not in ("complete", "completed", "error", "failed"):
        if timezone.now() - started > SPEED_TEST_TIMEOUT:
            _settle(items, ItemStatus.UNKNOWN, "NCM's speed test did not complete in time.")
            services.job_finish_if_done(job_id)
            return None
        return min(2 ** attempt, 30)
    results_by_device = {str(r.get("net_device_id")): r for r in state.get("results") or []}
    modems = {
        ncm_id: (pk, router_id)
        for pk, ncm_id, router_id in NetDevice.objects.filter(
            tenant_id=job.tenant_id, ncm_id__in=list(results_by_device)
        ).values_list("pk", "ncm_id", "router_id")
    }
    rows, outcome_by_router = [], {}
    for ncm_id, result in results_by_device.items():
        pk, router_id = modems.get(ncm_id, (None, None))
        figures = _parse_result(result.get("results") or "")
        ok = result.get("state") == "success"
        rows.append(SpeedTestResult(
            tenant_id=job.tenant_id, job=job, router_id=router_id, net_device_id=pk,
            test_type=str((state.get("config") or {}).get("test_type") or job.parameters.get("test_type", ""))[:40],
            state=str(result.get("state", ""))[:20],
            raw=str(result.get("results") or "")[:4000], **figures,
        ))
        outcome_by_router.setdefault(router_id, []).append({
            "net_device": pk, "state": result.get("state"), **figures,
            "message": str(result.get("results") or "")[:500],  # NCM's own words
        })
    with transaction.atomic():
        SpeedTestResult.objects.bulk_create(rows)
        # The same items may be settled by the poll of their other test types at the same moment: one at a time.
        for item in JobItem.objects.select_for_update().filter(pk__in=[i.pk for i in items], status=ItemStatus.DISPATCHED):
            earlier = dict(item.result or {})
            if test_id in earlier.get("tests_done", []):
                continue
            done = sorted(set(earlier.get("tests_done", [])) | {test_id})
            outcomes = _merge_modems(earlier.get("modems", []), outcome_by_router.get(item.router_id, []))
            if not set(item.ncm_ref.split(",")) <= set(done):
                JobItem.objects.filter(pk=item.pk).update(result={**earlier, "tests_done": done, "modems": outcomes})
                continue
            result = {"modems": outcomes, **({"not_started": earlier["not_started"]} if earlier.get("not_started") else {})}
            if outcomes and all(o["state"] == "success" for o in outcomes) and not earlier.get("not_started"):
                _record(item, ItemStatus.SUCCEEDED, result=result)
            else:
                said = "; ".join([o["message"] for o in outcomes if o["state"] != "success" and o.get("message")]
                                 + [f"not started: {m}" for m in earlier.get("not_started") or []])
                _record(item, ItemStatus.FAILED, result=result,
                        error="NCM reported no successful speed test for this router's modem(s)" + (f": {said}" if said else "."))
    services.job_finish_if_done(job_id)
    job.refresh_from_db()
    if services.rollout_wave_ended(job) and job.status == JobStatus.RUNNING:
        enqueue(services.RUN_JOB_TASK, job_id)  # a rollout: the drainer soaks, then halts or opens the next wave
    return None


def _resume_speed_test(job: Job) -> None:
    if job.status == JobStatus.RUNNING and JobItem.objects.filter(job=job, status=ItemStatus.PENDING).exists():
        enqueue(services.RUN_JOB_TASK, job.pk)
    refs = JobItem.objects.filter(job=job, status=ItemStatus.DISPATCHED).exclude(ncm_ref="").values_list("ncm_ref", flat=True)
    for test_id in {test_id for ref in refs for test_id in ref.split(",")}:
        enqueue(services.POLL_SPEED_TEST_TASK, job.pk, test_id, 0)
