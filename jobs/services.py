"""Job lifecycle: create (validated, scoped), start (expand targets into items), cancel, retry, finish.

Execution of items lives in jobs/runners.py; previews in jobs/preview.py.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

import ncm_config
from accounts.audit import record_change, snapshot
from accounts.authorization import require_action
from accounts.models import AuditAction, Organization, Tenant
from accounts.roles import Action
from jobs.models import (
    KIND_ACTIONS,
    TERMINAL_ITEM_STATUSES,
    ItemStatus,
    Job,
    JobItem,
    JobKind,
    JobLogEntry,
    JobStatus,
    MaintenanceWindow,
    OrgJob,
    TERMINAL_JOB_STATUSES,
)
from jobs import firmware
from jobs.formatting import counts_summary
from ncm_sync.models import Group, Router
from portal.events import announce
from portal.scoping import is_operator
from portal.retention import delete_in_batches, retention_cutoff
from portal.tasks import enqueue

logger = logging.getLogger(__name__)

# Queued by name (portal.tasks.enqueue): services and runners never import jobs.tasks.
RUN_JOB_TASK = "jobs.tasks.run_job_task"
POLL_SPEED_TEST_TASK = "jobs.tasks.poll_speed_test_task"

__all__ = [
    "job_create", "job_start", "job_cancel", "job_retry_failed", "job_finish_if_done", "job_log",
    "resolve_targets", "validate_parameters", "next_window_start", "start_due_jobs", "SPEED_TEST_DEFAULTS",
    "job_approve", "job_reject", "device_count", "validate_rollout", "job_resume", "rollout_next_wave",
    "rollout_wave_ended", "wave_summary", "org_job_create", "org_job_step", "org_job_approve", "org_job_reject",
    "org_job_resume", "org_job_cancel", "org_wave_summary",
]

SPEED_TEST_TYPES = ("TCP Download", "TCP Upload", "TCP Latency")
SPEED_TEST_DEFAULTS = {
    "host": "netperf.cradlepoint.com", "port": 12865, "size": None, "test_timeout": 10, "test_type": "TCP Download",
    "time": 10, "max_test_concurrency": 5,
}
MAX_TARGETS = 10_000
REBOOT_OFFLINE_CHOICES = ("fail", "skip")


def job_log(job: Job, message: str, *, level: str = "info", item: JobItem | None = None) -> None:
    JobLogEntry.objects.create(job=job, tenant_id=job.tenant_id, item=item, level=level, message=message[:2000])


#
# Validation shared by create and preview
#
def _ids(values, field: str) -> list[int]:
    if values in (None, ""):
        return []
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValidationError({field: ["A list of ids (integers) is required."]})
    return sorted(set(values))


def resolve_targets(*, user, tenant: Tenant, router_ids, group_ids) -> tuple[list[Router], list[Group]]:
    """Routers and groups named by the request, all inside `tenant` and the caller's scope (else 400)."""
    router_ids, group_ids = _ids(router_ids, "routers"), _ids(group_ids, "groups")
    if not router_ids and not group_ids:
        raise ValidationError({"routers": ["Name at least one router or group."]})
    if len(router_ids) + len(group_ids) > MAX_TARGETS:
        raise ValidationError({"routers": [f"At most {MAX_TARGETS} targets per job."]})
    routers = list(
        Router.objects.for_user(user, Action.VIEW).filter(tenant=tenant, pk__in=router_ids, deleted_at__isnull=True)
    )
    groups = list(Group.objects.for_user(user, Action.VIEW).filter(tenant=tenant, pk__in=group_ids, deleted_at__isnull=True))
    errors = {}
    missing_routers = sorted(set(router_ids) - {r.pk for r in routers})
    missing_groups = sorted(set(group_ids) - {g.pk for g in groups})
    if missing_routers:
        errors["routers"] = [f"Unknown router ids for this tenant: {missing_routers[:50]}"]
    if missing_groups:
        errors["groups"] = [f"Unknown group ids for this tenant: {missing_groups[:50]}"]
    if errors:
        raise ValidationError(errors)
    return routers, groups


def validate_parameters(kind: str, parameters: dict | None) -> dict:
    parameters = dict(parameters or {})
    if kind == JobKind.REBOOT:
        # NCM drops reboots for offline routers: their items fail (default) or are skipped; none is sent.
        unknown = sorted(set(parameters) - {"offline"})
        if unknown:
            raise ValidationError({"parameters": [f"Unknown reboot parameters: {', '.join(unknown)}."]})
        offline = parameters.get("offline", "fail")
        if offline not in REBOOT_OFFLINE_CHOICES:
            raise ValidationError({"parameters": ['offline must be "fail" (offline routers fail) or "skip" (they are skipped).']})
        return {"offline": offline}
    if kind == JobKind.SPEED_TEST:
        # `test_types`: several of NCM's test types in one job (NCM runs one speed_test job per type).
        types = parameters.pop("test_types", None)
        if types is not None:
            if (not isinstance(types, list) or not types or len(set(map(str, types))) != len(types)
                    or any(t not in SPEED_TEST_TYPES for t in types)):
                raise ValidationError({"parameters": [f"test_types must list some of {', '.join(SPEED_TEST_TYPES)}, each once."]})
            parameters["test_type"] = types[0]
        merged = {**SPEED_TEST_DEFAULTS, **parameters}
        if merged["test_type"] not in SPEED_TEST_TYPES:
            raise ValidationError({"parameters": [f"test_type must be one of {', '.join(SPEED_TEST_TYPES)}."]})
        unknown = sorted(set(merged) - set(SPEED_TEST_DEFAULTS))
        if unknown:
            raise ValidationError({"parameters": [f"Unknown speed test parameters: {', '.join(unknown)}."]})
        if not isinstance(merged["max_test_concurrency"], int) or not 1 <= merged["max_test_concurrency"] <= 50:
            raise ValidationError({"parameters": ["max_test_concurrency must be an integer from 1 to 50."]})
        if types and len(types) > 1:
            merged["test_types"] = types
        return merged
    if kind == JobKind.CONFIG_PUSH:
        mode = parameters.get("mode", "patch")
        if mode not in ("patch", "put"):
            raise ValidationError({"parameters": ['mode must be "patch" (merge) or "put" (replace).']})
        if "diff" not in parameters:
            raise ValidationError({"parameters": ['diff is required: [updates, removals] in NCM\'s form, e.g. [{"system": {"system_id": "r1"}}, []].']})
        errors = ncm_config.validate_diff(parameters["diff"])
        if errors:
            raise ValidationError({"parameters": [f"Invalid diff: {message}" for message in errors]})
        return {"mode": mode, "diff": parameters["diff"]}
    if kind == JobKind.FIRMWARE_UPGRADE:
        unknown = sorted(set(parameters) - {"version", "allow_downgrade", "timeout_minutes"})
        if unknown:
            raise ValidationError({"parameters": [f"Unknown firmware upgrade parameters: {', '.join(unknown)}."]})
        version = parameters.get("version")
        if not isinstance(version, str) or not firmware.version_key(version) or len(version) > 40:
            raise ValidationError({"parameters": ['version is required: the firmware version to install, e.g. "7.24.10".']})
        allow_downgrade = parameters.get("allow_downgrade", False)
        if not isinstance(allow_downgrade, bool):
            raise ValidationError({"parameters": ["allow_downgrade must be true or false."]})
        timeout = parameters.get("timeout_minutes", firmware.DEFAULT_TIMEOUT_MINUTES)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0.01 <= timeout <= 1440:
            raise ValidationError({"parameters": ["timeout_minutes must be a number of minutes up to 1440."]})
        return {"version": version.strip(), "allow_downgrade": allow_downgrade, "timeout_minutes": timeout}
    raise ValidationError({"kind": [f"kind must be one of {', '.join(JobKind.values)}."]})


ROLLOUT_KEYS = {"waves", "halt_after_failures", "pause_minutes", "waves_by"}
MAX_WAVES = 50


def validate_rollout(rollout, *, organization_wide: bool = False) -> dict | None:
    """`{"waves": [2, "10%", 20], "halt_after_failures": 1, "pause_minutes": 0}`; None or {} = no rollout.
    A wave is a number of devices or a percentage of all ("10%"); targets beyond them form a last wave."""
    if rollout in (None, {}):
        return None
    if not isinstance(rollout, dict):
        raise ValidationError({"rollout": ["An object is required: {\"waves\": [sizes], \"halt_after_failures\": n, \"pause_minutes\": m}."]})
    unknown = sorted(set(rollout) - ROLLOUT_KEYS)
    if unknown:
        raise ValidationError({"rollout": [f"Unknown rollout settings: {', '.join(map(str, unknown))}."]})
    waves = rollout.get("waves")
    if not isinstance(waves, list) or not waves or len(waves) > MAX_WAVES:
        raise ValidationError({"rollout": [f"waves must list 1 to {MAX_WAVES} wave sizes (devices, or a percentage such as \"10%\")."]})
    sizes = []
    for size in waves:
        if isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_TARGETS:
            sizes.append(size)
        elif isinstance(size, str) and size.endswith("%") and size[:-1].strip().isdigit() and 1 <= int(size[:-1]) <= 100:
            sizes.append(f"{int(size[:-1])}%")
        else:
            raise ValidationError({"rollout": [f"Each wave size is a number of devices (1 to {MAX_TARGETS}) or a percentage "
                                               f"from \"1%\" to \"100%\"; got {size!r}."]})
    halt = rollout.get("halt_after_failures", 1)
    if not isinstance(halt, int) or isinstance(halt, bool) or not 1 <= halt <= MAX_TARGETS:
        raise ValidationError({"rollout": ["halt_after_failures must be a whole number of at least 1."]})
    pause = rollout.get("pause_minutes", 0)
    if not isinstance(pause, (int, float)) or isinstance(pause, bool) or not 0 <= pause <= 1440:
        raise ValidationError({"rollout": ["pause_minutes must be a number from 0 to 1440."]})
    waves_by = rollout.get("waves_by", "tenant" if organization_wide else "device")
    if organization_wide and waves_by != "tenant":
        raise ValidationError({"rollout": ['An MSP-wide job waves by tenant: waves_by must be "tenant" (each wave is whole '
                                           'tenants; each tenant\'s job runs in its maintenance window).']})
    if not organization_wide and waves_by != "device":
        raise ValidationError({"rollout": ['waves_by must be "device" for a tenant\'s job ("tenant" needs an '
                                           'organization-wide job: POST /api/v1/org-jobs/).']})
    return {"waves": sizes, "halt_after_failures": halt, "pause_minutes": pause, "waves_by": waves_by}


def _wave_bounds(sizes: list, total: int) -> list[int]:
    """Cumulative item counts ending each listed wave (percentages of `total`, rounded up, at least 1)."""
    bounds, end = [], 0
    for size in sizes:
        n = max(1, -(-total * int(size[:-1]) // 100)) if isinstance(size, str) else size
        end = min(total, end + n)
        bounds.append(end)
    return bounds


#
# Scheduling
#
def next_window_start(tenant: Tenant, after: datetime) -> datetime | None:
    """The earliest moment at or after `after` inside one of the tenant's enabled maintenance windows."""
    tz = ZoneInfo(tenant.timezone)
    local = after.astimezone(tz)
    best = None
    for window in MaintenanceWindow.objects.filter(tenant=tenant, enabled=True):
        for offset in range(-1, 8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() != window.weekday:
                continue
            start = datetime.combine(day, window.start_time, tzinfo=tz)
            end = start + timedelta(minutes=window.duration_minutes)
            if end <= local:
                continue
            candidate = max(start, local)
            if best is None or candidate < best:
                best = candidate
    return best.astimezone(ZoneInfo("UTC")) if best else None


def _in_tenant_zone(tenant: Tenant, when: datetime | None) -> datetime | None:
    """A naive `scheduled_for` means wall-clock time in the tenant's time zone."""
    if when is None or timezone.is_aware(when):
        return when
    return when.replace(tzinfo=ZoneInfo(tenant.timezone))


#
# Create
#
@transaction.atomic
def job_create(
    *,
    user,
    tenant: Tenant,
    kind: str,
    router_ids=None,
    group_ids=None,
    parameters: dict | None = None,
    scheduled_for: datetime | None = None,
    wait_for_window: bool = False,
    retry_of: Job | None = None,
    source: str | None = None,
    device_ids=None,
    rollout: dict | None = None,
    org_job: "OrgJob | None" = None,
    org_wave: int = 0,
) -> Job:
    """Create a job after checking targets, parameters and the caller's role for this kind."""
    if kind not in JobKind.values:
        raise ValidationError({"kind": [f"kind must be one of {', '.join(JobKind.values)}."]})
    router_ids, devices, parameters = _with_devices(user, tenant, kind, router_ids, group_ids, device_ids, parameters)
    if router_ids or group_ids or not devices:
        parameters = {**validate_parameters(kind, {k: v for k, v in parameters.items() if k != "changes"}),
                      **({"changes": parameters["changes"]} if "changes" in parameters else {})}
        routers, groups = resolve_targets(user=user, tenant=tenant, router_ids=router_ids, group_ids=group_ids)
    else:
        routers, groups = [], []
        parameters = {k: parameters[k] for k in ("changes",) if k in parameters}
    rollout = validate_rollout(rollout)
    if kind == JobKind.FIRMWARE_UPGRADE:
        if routers:
            raise ValidationError({"routers": ["A firmware upgrade targets groups: NCM upgrades a router to its group's "
                                               "target firmware. Name groups, not routers."]})
        _require_kind(user, kind, tenant)  # before asking NCM anything
        parameters["groups"] = firmware.resolve_firmware(tenant, groups, parameters["version"],
                                                         allow_downgrade=parameters["allow_downgrade"])
    now = timezone.now()
    scheduled_for = _in_tenant_zone(tenant, scheduled_for)
    if wait_for_window:
        scheduled_for = next_window_start(tenant, max(now, scheduled_for or now))
        if scheduled_for is None:
            raise ValidationError({"wait_for_window": ["This tenant has no enabled maintenance window."]})
    how_many = device_count(tenant, routers, groups) + len(devices)
    threshold = tenant.organization.job_approval_threshold
    # Part of an MSP-wide job: approved (or not) as a whole there; held until its wave is released.
    needs_approval = org_job is None and threshold is not None and how_many > threshold
    job = Job.objects.create(
        tenant=tenant, kind=kind, parameters=parameters, created_by=user if user.is_authenticated else None,
        target_router_ids=[r.pk for r in routers], target_group_ids=[g.pk for g in groups],
        target_device_ids=[d.pk for d in devices],
        scheduled_for=scheduled_for, wait_for_window=wait_for_window, retry_of=retry_of,
        status=(JobStatus.SCHEDULED if org_job is not None else JobStatus.AWAITING_APPROVAL if needs_approval
                else _ready_status(scheduled_for, now)),
        counts={"total": 0}, device_count=how_many, rollout=rollout, org_job=org_job, org_wave=org_wave,
    )
    if not Job.objects.for_user(user, Action.CHANGE).filter(pk=job.pk).exists():
        raise PermissionDenied(f"Your role does not allow {kind} jobs on this tenant.")
    # Named targets have their items (and progress counts) at once; groups add their routers at start.
    items = [JobItem(job=job, tenant_id=tenant.pk, router=router) for router in routers]
    if kind == JobKind.CONFIG_PUSH:
        items += [JobItem(job=job, tenant_id=tenant.pk, group=group) for group in groups]
    items += [JobItem(job=job, tenant_id=tenant.pk, device=device) for device in devices]
    JobItem.objects.bulk_create(items, batch_size=1000)
    job.counts = _counts(job)
    job.save(update_fields=["counts"])
    local = scheduled_for.astimezone(ZoneInfo(tenant.timezone)) if scheduled_for else None
    job_log(job, f"Created by {getattr(user, 'username', 'system')}: {_count(len(routers), 'router')}, "
                 f"{_count(len(groups), 'group')}" + (f", {_count(len(devices), 'other device')}" if devices else "")
                 + (f", scheduled for {local:%Y-%m-%d %H:%M} ({tenant.timezone})"
                    + (", the start of the next maintenance window" if wait_for_window else "")
                    if job.scheduled_for and job.status in (JobStatus.SCHEDULED, JobStatus.AWAITING_APPROVAL) else ""))
    if org_job is not None:
        job_log(job, f"Part of MSP-wide job #{org_job.pk} ({org_job.organization.name}), wave {org_wave + 1}: "
                     "waits until its wave is released.")
    if needs_approval:
        job_log(job, f"Awaiting approval: {how_many} device(s) is over {tenant.organization.name}'s approval threshold "
                     f"of {threshold}. Nothing is sent until another user approves.")
    record_change(actor=user, action=AuditAction.CREATE, instance=job, source=source)
    if job.status == JobStatus.PENDING and org_job is None:
        transaction.on_commit(lambda: enqueue("jobs.tasks.start_job_task", job.pk))
    return job


def _require_kind(user, kind: str, tenant: Tenant) -> None:
    if user is not None and user.is_authenticated and not is_operator(user):
        require_action(user, KIND_ACTIONS[kind], tenant=tenant)


def _ready_status(scheduled_for: datetime | None, now: datetime) -> str:
    return JobStatus.SCHEDULED if scheduled_for and scheduled_for > now else JobStatus.PENDING


def device_count(tenant: Tenant, routers, groups) -> int:
    """The devices a job acts on: named routers plus the routers of named groups (each once)."""
    named = {r.pk for r in routers}
    members = set(
        Router.objects.filter(tenant=tenant, group__in=list(groups), deleted_at__isnull=True).values_list("pk", flat=True)
    ) if groups else set()
    return len(named | members)


#
# Approvals (two-person rule)
#
def _require_approver(job: Job, user) -> None:
    """Another user than the creator, holding the job's action on its tenant (all its targets are there)."""
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Approving a job needs a signed-in user.")
    if job.created_by_id is not None and job.created_by_id == user.pk:
        raise PermissionDenied("You created this job: another user must approve or reject it (two-person rule).")
    require_action(user, KIND_ACTIONS[job.kind], tenant=job.tenant)


@transaction.atomic
def job_approve(*, job: Job, user, source: str | None = None) -> Job:
    """Start a job awaiting approval (scheduled ones wait for their time). Not by its creator."""
    job = Job.objects.select_for_update().select_related("tenant").get(pk=job.pk)
    _require_approver(job, user)
    if job.status != JobStatus.AWAITING_APPROVAL:
        raise ValidationError({"detail": [f"The job is {job.status}, not awaiting approval."]})
    now = timezone.now()
    job.status = _ready_status(job.scheduled_for, now)
    job.approved_by, job.approved_at = user, now
    job.save(update_fields=["status", "approved_by", "approved_at"])
    job_log(job, f"Approved by {user.username}.")
    record_change(actor=user, action=AuditAction.ACTION, instance=job, source=source,
                  extra={"action": "approve", "devices": job.device_count})
    if job.status == JobStatus.PENDING:
        transaction.on_commit(lambda: enqueue("jobs.tasks.start_job_task", job.pk))
    return job


def _with_devices(user, tenant, kind, router_ids, group_ids, device_ids, parameters):
    """`devices` of any provider: NCM ones join the routers, the others come back as devices (jobs.devices)."""
    parameters = dict(parameters or {})
    if not device_ids:
        return router_ids, [], parameters
    from jobs.devices import split_device_targets

    ncm_routers, devices, extra = split_device_targets(user=user, tenant=tenant, kind=kind, device_ids=device_ids,
                                                       parameters=parameters)
    router_ids = sorted(set(_ids(router_ids, "routers")) | set(ncm_routers)) if (router_ids or ncm_routers) else router_ids
    return router_ids, devices, {**(parameters or {}), **extra}


@transaction.atomic
def job_reject(*, job: Job, user, reason: str = "", source: str | None = None) -> Job:
    """End a job awaiting approval without sending anything (it ends `cancelled`, saying who rejected it)."""
    job = Job.objects.select_for_update().select_related("tenant").get(pk=job.pk)
    _require_approver(job, user)
    if job.status != JobStatus.AWAITING_APPROVAL:
        raise ValidationError({"detail": [f"The job is {job.status}, not awaiting approval."]})
    now = timezone.now()
    JobItem.objects.filter(job=job, status=ItemStatus.PENDING).update(
        status=ItemStatus.CANCELLED, finished_at=now, error="The job was rejected; nothing was sent.")
    job.status, job.finished_at = JobStatus.CANCELLED, now
    job.error = f"Rejected by {user.username}" + (f": {reason}" if reason else ".")
    job.counts = _counts(job)
    job.save(update_fields=["status", "finished_at", "error", "counts"])
    job_log(job, job.error)
    record_change(actor=user, action=AuditAction.ACTION, instance=job, source=source,
                  extra={"action": "reject", "reason": reason[:500]})
    return job


#
# Start
#
def _expand(job: Job) -> list[JobItem]:
    routers = Router.objects.filter(tenant=job.tenant, pk__in=job.target_router_ids, deleted_at__isnull=True)
    groups = Group.objects.filter(tenant=job.tenant, pk__in=job.target_group_ids, deleted_at__isnull=True)
    items = [JobItem(job=job, tenant_id=job.tenant_id, router=r) for r in routers]
    if job.kind == JobKind.CONFIG_PUSH:
        # A push to a group changes the group configuration itself, once.
        items += [JobItem(job=job, tenant_id=job.tenant_id, group=g) for g in groups]
    else:
        named = {r.pk for r in routers}
        members = (Router.objects.filter(tenant=job.tenant, group__in=groups, deleted_at__isnull=True)
                   .exclude(pk__in=named).order_by("group_id", "pk"))
        items += [JobItem(job=job, tenant_id=job.tenant_id, router=r) for r in members]
    if job.target_device_ids:
        from devices.models import Device

        items += [JobItem(job=job, tenant_id=job.tenant_id, device=d)
                  for d in Device.objects.filter(tenant=job.tenant, pk__in=job.target_device_ids, deleted_at__isnull=True)]
    return items


def job_start(job_id: int) -> bool:
    """Move a due job to running and create its items (idempotent). Returns True when it started now."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (JobStatus.PENDING, JobStatus.SCHEDULED):
            return False
        if job.scheduled_for and job.scheduled_for > timezone.now():
            return False
        JobItem.objects.bulk_create(_expand(job), ignore_conflicts=True, batch_size=1000)
        if job.rollout:
            _assign_waves(job)
        job.status, job.started_at = JobStatus.RUNNING, timezone.now()
        job.counts = _counts(job)
        # Its drainers are queued (on commit): they hold the job from now (jobs.sweep).
        job.lease_until = job.started_at + timedelta(seconds=settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS)
        job.save(update_fields=["status", "started_at", "counts", "lease_until"])
        job_log(job, f"Started with {job.counts['total']} item(s)"
                     + (f" in {len(job.rollout['wave_sizes'])} wave(s) of {', '.join(map(str, job.rollout['wave_sizes']))}."
                        if job.rollout else "."))
    # Several drainers per job (bounded; the tenant's in-flight cap bounds them further); one for speed tests,
    # which NCM runs as a single job per 10,000 modems.
    drainers = 1 if job.kind == JobKind.SPEED_TEST else max(1, min(settings.JOBS_PARALLEL_PER_JOB, job.counts["total"]))
    transaction.on_commit(lambda: [enqueue(RUN_JOB_TASK, job_id) for _ in range(drainers)])
    if job.counts["total"] == 0:
        job_finish_if_done(job_id)
    return True


def _assign_waves(job: Job) -> None:
    """Number the job's items into waves (in item order) and keep the resolved sizes on the job."""
    rows = list(JobItem.objects.filter(job=job).order_by("id").values_list("pk", "router__group_id"))
    ids = [pk for pk, _group in rows]
    bounds = _wave_bounds(job.rollout["waves"], len(ids)) + [len(ids)]
    if job.kind == JobKind.FIRMWARE_UPGRADE:
        # NCM upgrades a whole group at once: a wave takes whole groups (it ends at the first group boundary
        # at or past its size), never part of one.
        edges = [i for i in range(1, len(rows)) if rows[i][1] != rows[i - 1][1]] + [len(rows)]
        bounds = [next(e for e in edges if e >= b) if b else 0 for b in bounds]
    sizes, start = [], 0
    for end in bounds:
        if end > start:
            JobItem.objects.filter(pk__in=ids[start:end]).update(wave=len(sizes))
            sizes.append(end - start)
            start = end
    job.rollout = {**job.rollout, "wave_sizes": sizes}
    job.current_wave, job.wave_ended_at = 0, None
    job.save(update_fields=["rollout", "current_wave", "wave_ended_at"])


def start_due_jobs() -> int:
    """Start scheduled jobs whose time has come (scheduled in the database, not as broker ETAs)."""
    ids = list(Job.objects.filter(status=JobStatus.SCHEDULED, scheduled_for__lte=timezone.now()).values_list("pk", flat=True))
    for pk in ids:
        job_start(pk)
    return len(ids)


#
# Progress and finish
#
def _count(n: int, noun: str) -> str:
    """"1 router", "3 routers" (log lines people read)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _counts(job: Job) -> dict:
    counts = dict(JobItem.objects.filter(job=job).values_list("status").annotate(n=Count("id")).order_by())
    counts["total"] = sum(counts.values())
    return counts


def job_update_counts(job_id: int) -> None:
    job = Job.objects.get(pk=job_id)
    Job.objects.filter(pk=job_id).update(counts=_counts(job))


def job_finish_if_done(job_id: int) -> Job | None:
    """When every item is terminal: set the job's final status, audit it and emit `job.finished`."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        counts = _counts(job)
        job.counts = counts
        in_flight = counts.get(ItemStatus.PENDING, 0) + counts.get(ItemStatus.DISPATCHED, 0)
        if in_flight or job.finished_at or job.status not in (JobStatus.RUNNING, JobStatus.CANCELLED):
            job.save(update_fields=["counts"])
            return None
        succeeded, total = counts.get(ItemStatus.SUCCEEDED, 0), counts["total"]
        ok = succeeded + counts.get(ItemStatus.SKIPPED, 0)
        if job.status != JobStatus.CANCELLED:
            if ok == total:
                job.status = JobStatus.SUCCEEDED
            elif succeeded == 0:
                job.status = JobStatus.FAILED
            else:
                job.status = JobStatus.PARTIAL
        job.finished_at = timezone.now()
        job.save(update_fields=["counts", "status", "finished_at"])
        job_log(job, f"Finished: {job.get_status_display().lower()} — {counts_summary(counts)}")
        record_change(actor=None, action=AuditAction.ACTION, instance=job, source="job",
                      extra={"action": "finished", "status": job.status, "counts": counts})
        announce(tenant=job.tenant, event="job.finished",
                   data={"job": job.pk, "kind": job.kind, "status": job.status, "counts": counts})
        if job.org_job_id:
            org_job_id = job.org_job_id
            transaction.on_commit(lambda: org_job_step(org_job_id))
    return job


#
# Rollouts: wave by wave, halting on failures
#
FAILURE_STATUSES = (ItemStatus.FAILED, ItemStatus.UNKNOWN)


def rollout_wave_ended(job: Job) -> bool:
    """The current wave has nothing pending or in flight, and a later wave has items waiting."""
    if not job.rollout:
        return False
    items = JobItem.objects.filter(job_id=job.pk)
    if items.filter(wave__lte=job.current_wave, status__in=[ItemStatus.PENDING, ItemStatus.DISPATCHED]).exists():
        return False
    return items.filter(wave__gt=job.current_wave, status=ItemStatus.PENDING).exists()


def _failures(job: Job) -> int:
    return JobItem.objects.filter(job_id=job.pk, status__in=FAILURE_STATUSES).count()


def _next_wave(job: Job) -> int | None:
    return (JobItem.objects.filter(job_id=job.pk, wave__gt=job.current_wave, status=ItemStatus.PENDING)
            .order_by("wave").values_list("wave", flat=True).first())


def _open_wave(job: Job, wave: int) -> None:
    """Let the drainers send `wave`'s items (on commit: several drainers, as job_start queues)."""
    job.current_wave, job.wave_ended_at = wave, None
    job.lease_until = timezone.now() + timedelta(seconds=settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS)
    job.save(update_fields=["status", "current_wave", "wave_ended_at", "lease_until", "failures_accepted", "halt_reason"])
    waves = len((job.rollout or {}).get("wave_sizes") or []) or "?"
    size = JobItem.objects.filter(job_id=job.pk, wave=wave, status=ItemStatus.PENDING).count()
    job_log(job, f"Wave {wave + 1} of {waves} started: {size} item(s).")
    drainers = 1 if job.kind == JobKind.SPEED_TEST else max(1, min(settings.JOBS_PARALLEL_PER_JOB, size))
    job_id = job.pk
    transaction.on_commit(lambda: [enqueue(RUN_JOB_TASK, job_id) for _ in range(drainers)])


def rollout_next_wave(job_id: int) -> bool:
    """The current wave has ended (and its soak passed): halt the job when its failed + unknown items since the
    last resume reached `halt_after_failures`, else open the next wave. Returns True when a wave was opened."""
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("tenant").get(pk=job_id)
        if job.status != JobStatus.RUNNING or not rollout_wave_ended(job):
            return False
        failures = _failures(job) - job.failures_accepted
        threshold = job.rollout.get("halt_after_failures", 1)
        waves = len(job.rollout.get("wave_sizes") or [])
        if failures >= threshold:
            job.status = JobStatus.HALTED
            job.halt_reason = (
                f"Halted after wave {job.current_wave + 1} of {waves}: {failures} failed or unknown item(s)"
                + (" since the last resume" if job.failures_accepted else "")
                + f" (the rollout halts at {threshold}). Later waves were not started; resume or cancel the job."
            )
            job.counts = _counts(job)
            job.save(update_fields=["status", "halt_reason", "counts"])
            job_log(job, job.halt_reason, level="warning")
            record_change(actor=None, action=AuditAction.ACTION, instance=job, source="job",
                          extra={"action": "halted", "wave": job.current_wave + 1, "failures": failures})
            announce(tenant=job.tenant, event="job.halted",
                     data={"job": job.pk, "kind": job.kind, "status": job.status, "wave": job.current_wave + 1,
                           "waves": waves, "failures": failures, "reason": job.halt_reason, "counts": job.counts})
            return False
        _open_wave(job, _next_wave(job))
        return True


@transaction.atomic
def job_resume(*, job: Job, user, source: str | None = None) -> Job:
    """Continue a halted rollout with its next wave: the failures so far are accepted, the count starts again."""
    job = Job.objects.select_for_update().select_related("tenant").get(pk=job.pk)
    if user is not None:
        require_action(user, KIND_ACTIONS[job.kind], tenant=job.tenant)
    if job.status != JobStatus.HALTED:
        raise ValidationError({"detail": [f"The job is {job.status}; only a halted rollout resumes."]})
    accepted, wave = _failures(job), _next_wave(job)
    job.status, job.failures_accepted, job.halt_reason = JobStatus.RUNNING, accepted, ""
    job_log(job, f"Resumed by {getattr(user, 'username', 'system')}: {accepted} failed or unknown item(s) accepted.")
    record_change(actor=user, action=AuditAction.ACTION, instance=job, source=source,
                  extra={"action": "resume", "accepted_failures": accepted,
                         "wave": wave + 1 if wave is not None else None})
    if wave is None:  # nothing left to send (cancelled meanwhile): the job finishes
        job.save(update_fields=["status", "failures_accepted", "halt_reason"])
        transaction.on_commit(lambda: job_finish_if_done(job.pk))
        return job
    _open_wave(job, wave)
    return job


def wave_summary(job: Job) -> list[dict]:
    """Per wave: its number, size, item counts by status and whether it is done, running or waiting."""
    if not job.rollout:
        return []
    rows = JobItem.objects.filter(job_id=job.pk).values_list("wave", "status").annotate(n=Count("id")).order_by()
    by_wave: dict[int, dict] = {}
    for wave, status, n in rows:
        by_wave.setdefault(wave, {})[status] = n
    summary = []
    for wave in sorted(by_wave):
        counts = by_wave[wave]
        open_ = counts.get(ItemStatus.PENDING, 0) + counts.get(ItemStatus.DISPATCHED, 0)
        if wave > job.current_wave or job.status in (JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.AWAITING_APPROVAL):
            state = "waiting"
        elif open_ and job.status == JobStatus.RUNNING:
            state = "running"
        elif open_:
            state = "stopped"
        else:
            state = "ended"
        summary.append({"wave": wave + 1, "size": sum(counts.values()), "state": state, "counts": counts})
    return summary


#
# Control
#
@transaction.atomic
def job_cancel(*, job: Job, user, source: str | None = None) -> Job:
    """Cancel pending items; dispatched ones finish on their own. The job ends `cancelled`."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status in (JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED):
        raise ValidationError({"detail": [f"The job is already {job.status}."]})
    cancelled = JobItem.objects.filter(job=job, status=ItemStatus.PENDING).update(
        status=ItemStatus.CANCELLED, finished_at=timezone.now(), error="Cancelled before it was sent."
    )
    job.status = JobStatus.CANCELLED
    job.save(update_fields=["status"])
    job_log(job, f"Cancelled by {user.username}: {cancelled} pending item(s) cancelled.")
    record_change(actor=user, action=AuditAction.ACTION, instance=job, extra={"action": "cancel", "items": cancelled},
                  source=source)
    transaction.on_commit(lambda: job_finish_if_done(job.pk))
    return job


def job_retry_failed(*, job: Job, user, include_unknown: bool = False, source: str | None = None) -> Job:
    """A new job for the failed items only (and `unknown` ones only when asked explicitly)."""
    statuses = [ItemStatus.FAILED] + ([ItemStatus.UNKNOWN] if include_unknown else [])
    items = JobItem.objects.filter(job=job, status__in=statuses)
    router_ids = sorted({pk for pk in items.values_list("router_id", flat=True) if pk})
    group_ids = sorted({pk for pk in items.values_list("group_id", flat=True) if pk})
    device_ids = sorted({pk for pk in items.values_list("device_id", flat=True) if pk})
    if not router_ids and not group_ids and not device_ids:
        raise ValidationError({"detail": ["Nothing to retry: no failed items" + (" or unknown items." if include_unknown else ".")]})
    if job.kind == JobKind.FIRMWARE_UPGRADE:  # NCM upgrades through groups: retry the failed routers' groups
        group_ids = sorted(set(Router.objects.filter(pk__in=router_ids, group__isnull=False).values_list("group_id", flat=True)))
        router_ids = []
        parameters = {k: v for k, v in job.parameters.items() if k in ("version", "allow_downgrade", "timeout_minutes")}
        return job_create(user=user, tenant=job.tenant, kind=job.kind, group_ids=group_ids, parameters=parameters,
                          retry_of=job, source=source)
    return job_create(
        user=user, tenant=job.tenant, kind=job.kind, router_ids=router_ids, group_ids=group_ids,
        parameters=job.parameters, retry_of=job, source=source, device_ids=device_ids or None,
    )


#
# MSP-wide jobs: one job per tenant, released wave by wave (whole tenants)
#
MAX_ORG_TARGETS = 1000


def _org_targets(organization: Organization, targets) -> list[tuple[Tenant, list, list]]:
    if not isinstance(targets, list) or not targets:
        raise ValidationError({"targets": ['Name at least one tenant: [{"tenant": id, "routers": [ids], "groups": [ids]}].']})
    if len(targets) > MAX_ORG_TARGETS:
        raise ValidationError({"targets": [f"At most {MAX_ORG_TARGETS} tenants per MSP-wide job."]})
    ids = [t.get("tenant") if isinstance(t, dict) else None for t in targets]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or len(set(ids)) != len(ids):
        raise ValidationError({"targets": ["Each target names one tenant (an id), each tenant once."]})
    tenants = {t.pk: t for t in Tenant.objects.filter(organization=organization, pk__in=ids).select_related("organization")}
    missing = [i for i in ids if i not in tenants]
    if missing:
        raise ValidationError({"targets": [f"Not tenants of {organization.name}: {missing[:50]}"]})
    return [(tenants[t["tenant"]], t.get("routers") or [], t.get("groups") or []) for t in targets]


def _org_wave_of(rollout: dict | None, count: int) -> list[int]:
    """The wave of each tenant (in the order given) for `waves` sized in tenants; the rest form a last wave."""
    if not rollout:
        return [0] * count
    bounds = _wave_bounds(rollout["waves"], count) + [count]
    waves, start, wave = [0] * count, 0, 0
    for end in bounds:
        if end > start:
            for i in range(start, end):
                waves[i] = wave
            wave, start = wave + 1, end
    return waves


@transaction.atomic
def org_job_create(*, user, organization: Organization, kind: str, targets, parameters: dict | None = None,
                   rollout: dict | None = None, source: str | None = None) -> OrgJob:
    """An MSP-wide job: the kind's action on the organization (an organization-level role), then one job per
    tenant, held until its wave; over the organization's approval threshold (all devices) it awaits approval."""
    if kind not in JobKind.values:
        raise ValidationError({"kind": [f"kind must be one of {', '.join(JobKind.values)}."]})
    if user is not None and user.is_authenticated:
        require_action(user, KIND_ACTIONS[kind], organization=organization)
    rollout = validate_rollout(rollout, organization_wide=True)
    planned = _org_targets(organization, targets)
    org_job = OrgJob.objects.create(
        organization=organization, kind=kind, parameters=validate_parameters(kind, parameters), rollout=rollout,
        targets=[{"tenant": t.pk, "routers": r, "groups": g} for t, r, g in planned],
        created_by=user if user is not None and user.is_authenticated else None, counts={"total": 0},
    )
    waves = _org_wave_of(rollout, len(planned))
    devices = 0
    for (tenant, routers, groups), wave in zip(planned, waves):
        try:
            child = job_create(user=user, tenant=tenant, kind=kind, router_ids=routers, group_ids=groups,
                               parameters=parameters, source=source, org_job=org_job, org_wave=wave)
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "message_dict") else {"detail": exc.messages}
            raise ValidationError({"targets": [f"Tenant {tenant.name} (id {tenant.pk}): {field}: {m}"
                                               for field, ms in detail.items() for m in ms]}) from None
        devices += child.device_count
    threshold = organization.job_approval_threshold
    org_job.device_count = devices
    if rollout:
        org_job.rollout = {**rollout, "wave_sizes": [waves.count(w) for w in range(max(waves) + 1)]}
    org_job.status = JobStatus.AWAITING_APPROVAL if threshold is not None and devices > threshold else JobStatus.RUNNING
    org_job.counts = _org_counts(org_job)
    org_job.save(update_fields=["device_count", "status", "counts", "rollout"])
    record_change(actor=user, action=AuditAction.CREATE, instance=org_job, source=source,
                  extra={"tenants": len(planned), "devices": devices})
    if org_job.status == JobStatus.RUNNING:
        _org_release(org_job, 0)
    return org_job


def _org_counts(org_job: OrgJob) -> dict:
    totals: dict[str, int] = {}
    for counts in Job.objects.filter(org_job=org_job).values_list("counts", flat=True):
        for status, n in (counts or {}).items():
            totals[status] = totals.get(status, 0) + int(n or 0)
    totals.setdefault("total", 0)
    return totals


def _org_release(org_job: OrgJob, wave: int) -> int:
    """Release a wave's tenant jobs: each starts now, after the soak, or at its tenant's next maintenance window
    (when it has any enabled one). Their tenants' in-flight caps apply as to every job."""
    now = timezone.now()
    pause = timedelta(minutes=float((org_job.rollout or {}).get("pause_minutes") or 0)) if wave else timedelta(0)
    released = 0
    for job in Job.objects.select_for_update().filter(org_job=org_job, org_wave=wave, status=JobStatus.SCHEDULED,
                                                      scheduled_for__isnull=True).select_related("tenant"):
        start = now + pause
        if MaintenanceWindow.objects.filter(tenant=job.tenant, enabled=True).exists():
            start = next_window_start(job.tenant, start) or start
            job.wait_for_window = True
        if start > now:
            job.scheduled_for = start
            local = start.astimezone(ZoneInfo(job.tenant.timezone))
            job_log(job, f"Wave {wave + 1} of MSP-wide job #{org_job.pk} released: starts {local:%Y-%m-%d %H:%M} "
                         f"({job.tenant.timezone})" + (", the tenant's next maintenance window." if job.wait_for_window else "."))
        else:
            job.status = JobStatus.PENDING
            job_log(job, f"Wave {wave + 1} of MSP-wide job #{org_job.pk} released: starting.")
            pk = job.pk
            transaction.on_commit(lambda pk=pk: enqueue("jobs.tasks.start_job_task", pk))
        job.save(update_fields=["status", "scheduled_for", "wait_for_window"])
        released += 1
    org_job.current_wave = wave
    org_job.save(update_fields=["current_wave"])
    return released


def org_job_step(org_job_id: int) -> OrgJob | None:
    """A tenant job of the MSP-wide job finished (or the sweep looks): when the current wave's jobs have all
    finished, halt (failed + unknown since the last resume reached the threshold), release the next wave, or
    finish. Idempotent."""
    with transaction.atomic():
        org_job = OrgJob.objects.select_for_update().select_related("organization").filter(pk=org_job_id).first()
        if org_job is None or org_job.status not in (JobStatus.RUNNING, JobStatus.CANCELLED) or org_job.finished_at:
            return None
        org_job.counts = _org_counts(org_job)
        children = Job.objects.filter(org_job=org_job)
        open_now = children.filter(org_wave__lte=org_job.current_wave, finished_at__isnull=True).exists()
        later = children.filter(org_wave__gt=org_job.current_wave, finished_at__isnull=True).order_by("org_wave") \
            .values_list("org_wave", flat=True).first()
        if open_now or (org_job.status == JobStatus.CANCELLED and children.filter(finished_at__isnull=True).exists()):
            org_job.save(update_fields=["counts"])
            return None
        failures = org_job.counts.get(ItemStatus.FAILED, 0) + org_job.counts.get(ItemStatus.UNKNOWN, 0)
        threshold = (org_job.rollout or {}).get("halt_after_failures", 1)
        if later is not None and org_job.status == JobStatus.RUNNING:
            if org_job.rollout and failures - org_job.failures_accepted >= threshold:
                waves = len(org_job.rollout.get("wave_sizes") or [])
                org_job.status = JobStatus.HALTED
                org_job.halt_reason = (
                    f"Halted after wave {org_job.current_wave + 1} of {waves}: {failures - org_job.failures_accepted} "
                    f"failed or unknown item(s) (the rollout halts at {threshold}). The later tenants' jobs were not "
                    "started; resume or cancel.")
                org_job.save(update_fields=["status", "halt_reason", "counts"])
                record_change(actor=None, action=AuditAction.ACTION, instance=org_job, source="job",
                              extra={"action": "halted", "wave": org_job.current_wave + 1, "failures": failures})
                first = children.filter(org_wave=org_job.current_wave).select_related("tenant").first()
                if first is not None:  # organization webhooks hear it through any of its tenants
                    announce(tenant=first.tenant, event="job.halted", data={
                        "org_job": org_job.pk, "organization": org_job.organization_id, "kind": org_job.kind,
                        "status": org_job.status, "wave": org_job.current_wave + 1, "reason": org_job.halt_reason,
                        "counts": org_job.counts})
                return org_job
            org_job.save(update_fields=["counts"])
            _org_release(org_job, later)
            return org_job
        # Every tenant's job has finished: the MSP-wide job ends.
        succeeded, total = org_job.counts.get(ItemStatus.SUCCEEDED, 0), org_job.counts.get("total", 0)
        ok = succeeded + org_job.counts.get(ItemStatus.SKIPPED, 0)
        if org_job.status != JobStatus.CANCELLED:
            org_job.status = (JobStatus.SUCCEEDED if ok == total else JobStatus.FAILED if succeeded == 0 else JobStatus.PARTIAL)
        org_job.finished_at = timezone.now()
        org_job.save(update_fields=["status", "counts", "finished_at"])
        record_change(actor=None, action=AuditAction.ACTION, instance=org_job, source="job",
                      extra={"action": "finished", "status": org_job.status, "counts": org_job.counts})
        return org_job


def _require_org_approver(org_job: OrgJob, user) -> None:
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Approving a job needs a signed-in user.")
    if org_job.created_by_id is not None and org_job.created_by_id == user.pk:
        raise PermissionDenied("You created this job: another user must approve or reject it (two-person rule).")
    require_action(user, KIND_ACTIONS[org_job.kind], organization=org_job.organization)


@transaction.atomic
def org_job_approve(*, org_job: OrgJob, user, source: str | None = None) -> OrgJob:
    org_job = OrgJob.objects.select_for_update().select_related("organization").get(pk=org_job.pk)
    _require_org_approver(org_job, user)
    if org_job.status != JobStatus.AWAITING_APPROVAL:
        raise ValidationError({"detail": [f"The job is {org_job.status}, not awaiting approval."]})
    org_job.status, org_job.approved_by, org_job.approved_at = JobStatus.RUNNING, user, timezone.now()
    org_job.save(update_fields=["status", "approved_by", "approved_at"])
    record_change(actor=user, action=AuditAction.ACTION, instance=org_job, source=source,
                  extra={"action": "approve", "devices": org_job.device_count})
    _org_release(org_job, 0)
    return org_job


@transaction.atomic
def org_job_reject(*, org_job: OrgJob, user, reason: str = "", source: str | None = None) -> OrgJob:
    org_job = OrgJob.objects.select_for_update().select_related("organization").get(pk=org_job.pk)
    _require_org_approver(org_job, user)
    if org_job.status != JobStatus.AWAITING_APPROVAL:
        raise ValidationError({"detail": [f"The job is {org_job.status}, not awaiting approval."]})
    now = timezone.now()
    org_job.error = f"Rejected by {user.username}" + (f": {reason}" if reason else ".")
    for job in Job.objects.filter(org_job=org_job, finished_at__isnull=True):
        JobItem.objects.filter(job=job, status=ItemStatus.PENDING).update(
            status=ItemStatus.CANCELLED, finished_at=now, error="The job was rejected; nothing was sent.")
        Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED, finished_at=now, error=org_job.error,
                                             counts=_counts(job))
    org_job.status, org_job.finished_at, org_job.counts = JobStatus.CANCELLED, now, _org_counts(org_job)
    org_job.save(update_fields=["status", "finished_at", "error", "counts"])
    record_change(actor=user, action=AuditAction.ACTION, instance=org_job, source=source,
                  extra={"action": "reject", "reason": reason[:500]})
    return org_job


@transaction.atomic
def org_job_resume(*, org_job: OrgJob, user, source: str | None = None) -> OrgJob:
    org_job = OrgJob.objects.select_for_update().select_related("organization").get(pk=org_job.pk)
    if user is not None:
        require_action(user, KIND_ACTIONS[org_job.kind], organization=org_job.organization)
    if org_job.status != JobStatus.HALTED:
        raise ValidationError({"detail": [f"The job is {org_job.status}; only a halted rollout resumes."]})
    counts = _org_counts(org_job)
    accepted = counts.get(ItemStatus.FAILED, 0) + counts.get(ItemStatus.UNKNOWN, 0)
    org_job.status, org_job.failures_accepted, org_job.halt_reason = JobStatus.RUNNING, accepted, ""
    org_job.save(update_fields=["status", "failures_accepted", "halt_reason"])
    record_change(actor=user, action=AuditAction.ACTION, instance=org_job, source=source,
                  extra={"action": "resume", "accepted_failures": accepted})
    later = (Job.objects.filter(org_job=org_job, org_wave__gt=org_job.current_wave, finished_at__isnull=True)
             .order_by("org_wave").values_list("org_wave", flat=True).first())
    if later is None:
        transaction.on_commit(lambda: org_job_step(org_job.pk))
    else:
        _org_release(org_job, later)
    return org_job


def org_job_cancel(*, org_job: OrgJob, user, source: str | None = None) -> OrgJob:
    """Cancel every tenant job not finished (items already sent finish on their own)."""
    with transaction.atomic():
        org_job = OrgJob.objects.select_for_update().get(pk=org_job.pk)
        if org_job.finished_at or org_job.status == JobStatus.CANCELLED:
            raise ValidationError({"detail": [f"The job is already {org_job.status}."]})
        org_job.status = JobStatus.CANCELLED
        org_job.save(update_fields=["status"])
        record_change(actor=user, action=AuditAction.ACTION, instance=org_job, source=source, extra={"action": "cancel"})
        for job in Job.objects.filter(org_job=org_job, finished_at__isnull=True):
            if job.status != JobStatus.CANCELLED:
                job_cancel(job=job, user=user, source=source)
    org_job_step(org_job.pk)
    org_job.refresh_from_db()
    return org_job


def org_wave_summary(org_job: OrgJob) -> list[dict]:
    """Per wave: its tenants' jobs (id, tenant, status, counts) and the wave's state."""
    waves: dict[int, list[dict]] = {}
    for job in Job.objects.filter(org_job=org_job).select_related("tenant").order_by("org_wave", "id"):
        waves.setdefault(job.org_wave, []).append({"job": job.pk, "tenant": job.tenant_id, "tenant_name": job.tenant.name,
                                                  "status": job.status, "scheduled_for": job.scheduled_for,
                                                  "counts": job.counts})
    out = []
    for wave, jobs in sorted(waves.items()):
        ended = all(j["status"] in TERMINAL_JOB_STATUSES for j in jobs)
        state = "ended" if ended else "waiting" if wave > org_job.current_wave or org_job.status == JobStatus.AWAITING_APPROVAL else "running"
        out.append({"wave": wave + 1, "state": state, "jobs": jobs})
    return out


#
# Maintenance windows (the API, the UI and the admin write them here)
#
WINDOW_FIELDS = ("name", "weekday", "start_time", "duration_minutes", "enabled")


def maintenance_window_save(*, actor, tenant: Tenant, window: MaintenanceWindow | None = None, **fields) -> MaintenanceWindow:
    """Create or change a weekly window of a tenant (`change` on that tenant, and on the one it leaves)."""
    if actor is not None:
        require_action(actor, Action.CHANGE, tenant=tenant)
        if window is not None and window.pk and window.tenant_id != tenant.pk:
            require_action(actor, Action.CHANGE, tenant=window.tenant)
    before = snapshot(window) if window is not None and window.pk else None
    window = window or MaintenanceWindow()
    window.tenant = tenant
    for name in WINDOW_FIELDS:
        if name in fields:
            setattr(window, name, fields[name])
    window.full_clean()
    window.save()
    if actor is not None:
        record_change(actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, instance=window,
                      before=before, after=snapshot(window) if before else None)
    return window


def maintenance_window_delete(*, actor, window: MaintenanceWindow) -> None:
    if actor is not None:
        require_action(actor, Action.CHANGE, tenant=window.tenant)
        record_change(actor=actor, action=AuditAction.DELETE, instance=window, before=snapshot(window))
    window.delete()


def prune_jobs(*, now=None) -> int:
    """Finished jobs past retention (settings.RETENTION_DAYS["jobs"]) with their items and log, in batches.
    Speed-test history keeps its results (their job link becomes empty)."""
    cutoff = retention_cutoff("jobs", now)
    if cutoff is None:
        return 0
    return delete_in_batches(Job.objects.filter(finished_at__lt=cutoff, status__in=TERMINAL_JOB_STATUSES))
