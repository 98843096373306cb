"""Jobs: the wizard (targets → kind → parameters → preview → confirm), the job page with live progress,
cancel and retry-failed, and the list. Writes go through jobs.services (the API's services), audited as "ui"."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.roles import Action
from devices import selectors as device_selectors
from devices.models import DeviceProvider
from devices.providers import PROVIDERS
from jobs import services as job_services
from jobs.formatting import counts_summary, item_summary
from jobs.models import KIND_ACTIONS, TERMINAL_JOB_STATUSES, ItemStatus, Job, JobItem, JobKind, JobStatus, MaintenanceWindow
from jobs.preview import job_preview
from jobs.services import SPEED_TEST_TYPES
from ncm_sync.filtersets import RouterFilterSet
from ncm_sync import selectors as ncm_selectors
from ncm_sync.models import Group
from ui import mirror
from ui.access import TenantPermissions, tenant_or_404
from ui.selectors import filterset_filters
from ui.tables import Column, DataTable, when_column
from ui.templatetags.ui import badge
from ui.views.tenant import tenant_context

MAX_PICK = 500
ALL_SPEED_TESTS = "all"  # the wizard's "download, upload and latency": one NCM speed test of each type

# The wizard's router filters apply the API's FilterSet (state, group), so both faces filter alike.
WIZARD_FILTERS = filterset_filters(RouterFilterSet, {"state": "state", "in_group": "group"})


def _allowed_kinds(perms: TenantPermissions) -> list[tuple[str, str]]:
    return [(k.value, k.label) for k in JobKind if perms.allows(KIND_ACTIONS[k])]


def _int_list(values) -> list[int]:
    out = []
    for v in values:
        if str(v).isdigit():
            out.append(int(v))
    return sorted(set(out))


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{'' if k in ('__all__', 'detail') else k + ': '}{m}" for k, ms in exc.message_dict.items() for m in ms]
    return list(exc.messages)


VENDOR_LABELS = {"ncm": "Cradlepoint routers", "eccloud": "IgniteNet access points"}
CHANGE_ROWS_MIN = 3  # empty key/value rows offered for ecCloud changes (JavaScript adds more)


def _kind_choices(kinds: list[tuple[str, str]], vendors: set[str]) -> list[dict]:
    """Each kind the role allows, with the vendors that have it and, for the chosen vendors, why it is disabled."""
    out = []
    for value, label in kinds:
        supported = sorted(name for name, provider in PROVIDERS.items() if provider.supports(value))
        lacking = [PROVIDERS[v].label for v in sorted(vendors) if v in PROVIDERS and not PROVIDERS[v].supports(value)]
        reason = (f"Not available for this selection: {' and '.join(lacking)} "
                  f"{'has' if len(lacking) == 1 else 'have'} no {label.lower()}.") if lacking else ""
        out.append({"value": value, "label": label, "vendors": " ".join(supported), "reason": reason})
    return out


def _change_rows(data) -> list[dict]:
    """The ecCloud changes as the form holds them: rows of key, value and "set"/"remove" (parallel lists)."""
    keys, values, ops = data.getlist("change_key"), data.getlist("change_value"), data.getlist("change_op")
    rows = []
    for i, key in enumerate(keys):
        rows.append({"key": (key or "").strip(), "value": values[i] if i < len(values) else "",
                     "remove": (ops[i] if i < len(ops) else "") == "remove"})
    return rows


def _changes(rows: list[dict]) -> dict:
    """`{key: "value"}` (string values as typed) or `{key: None}` (remove the device-level override)."""
    changes: dict[str, str | None] = {}
    for number, row in enumerate(rows, start=1):
        if not row["key"]:
            if row["value"]:
                raise ValidationError({"changes": [f"Row {number}: a value without a key."]})
            continue
        if row["key"] in changes:
            raise ValidationError({"changes": [f"Row {number}: {row['key']} is given twice."]})
        changes[row["key"]] = None if row["remove"] else row["value"]
    if not changes:
        raise ValidationError({"changes": ["Give at least one key and its value for the IgniteNet access points "
                                           "(or remove an override)."]})
    return changes


def _parameters(kind: str, data, vendors: set[str] | None = None, change_rows: list[dict] | None = None) -> dict:
    """The chosen kind's parameters only (the form holds every kind's inputs; the others are ignored).

    A config push carries NCM's diff for Cradlepoint targets and ecCloud's `changes` for IgniteNet devices."""
    vendors = {"ncm"} if vendors is None else vendors
    if kind == JobKind.CONFIG_PUSH and vendors and "ncm" not in vendors:
        return {"changes": _changes(change_rows or [])}
    if kind == JobKind.CONFIG_PUSH and vendors - {"ncm"}:
        return {**_parameters(kind, data, {"ncm"}), "changes": _changes(change_rows or [])}
    if kind == JobKind.REBOOT:
        return {"offline": "skip" if data.get("offline") == "skip" else "fail"}
    if kind == JobKind.SPEED_TEST:
        if data.get("test_type") == ALL_SPEED_TESTS:
            return {"test_types": list(SPEED_TEST_TYPES)}
        return {"test_type": data.get("test_type") or SPEED_TEST_TYPES[0]}
    if kind == JobKind.CONFIG_PUSH:
        raw = (data.get("diff") or "").strip()
        try:
            diff = json.loads(raw) if raw else None
        except json.JSONDecodeError as exc:
            raise ValidationError({"diff": [f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."]}) from None
        params = {"mode": data.get("mode") or "patch"}
        if diff is not None:
            params["diff"] = diff
        return params
    if kind == JobKind.FIRMWARE_UPGRADE:
        params = {"version": (data.get("version") or "").strip(), "allow_downgrade": data.get("allow_downgrade") == "on"}
        return params
    return {}


# The wizard's rollout presets (waves of devices; what is left forms the last wave).
ROLLOUT_PRESETS = {
    "": ("All at once", None),
    "canary": ("1 device, then 10%, then the rest", [1, "10%"]),
    "tenth": ("10%, then 50%, then the rest", ["10%", "50%"]),
    "custom": ("Custom waves", None),
}


def _rollout(data) -> dict | None:
    """The wizard's staged rollout (validated by the service): a preset or custom sizes, a halt and a soak."""
    preset = data.get("rollout") if data.get("rollout") in ROLLOUT_PRESETS else ""
    if not preset:
        return None
    if preset == "custom":
        sizes = []
        for part in (data.get("waves") or "").replace(";", ",").split(","):
            part = part.strip()
            if part:
                sizes.append(part if part.endswith("%") else int(part) if part.isdigit() else part)
        waves = sizes
    else:
        waves = ROLLOUT_PRESETS[preset][1]
    def number(name, default, cast):
        raw = (data.get(name) or "").strip()
        try:
            return cast(raw) if raw else default
        except ValueError:
            raise ValidationError({"rollout": [f"{name.replace('_', ' ')} must be a number."]}) from None
    return {"waves": waves, "halt_after_failures": number("halt_after_failures", 1, int),
            "pause_minutes": number("pause_minutes", 0, float)}


def _approval_note(tenant, router_ids, group_ids, user, other_devices: int = 0) -> str:
    """Says when the job will wait for a second user's approval (the organization's threshold)."""
    threshold = tenant.organization.job_approval_threshold
    if threshold is None:
        return ""
    from ncm_sync.models import Router

    routers = list(Router.objects.for_user(user).filter(tenant=tenant, pk__in=router_ids))
    groups = list(Group.objects.for_user(user).filter(tenant=tenant, pk__in=group_ids))
    devices = job_services.device_count(tenant, routers, groups) + other_devices
    if devices <= threshold:
        return ""
    return (f"Needs approval: {devices} devices is over {tenant.organization.name}'s threshold of {threshold}. "
            "The job waits, sending nothing, until another user approves it.")


WHEN_CHOICES = ("now", "at", "window")


def _schedule(tenant, data) -> tuple[str, datetime | None, bool]:
    """The wizard's "when": now, at a wall-clock time in the tenant's time zone, or the next maintenance window."""
    when = data.get("when") if data.get("when") in WHEN_CHOICES else "now"
    if when == "at":
        raw = (data.get("scheduled_for") or "").strip()
        try:
            local = datetime.fromisoformat(raw) if raw else None
        except ValueError:
            local = None
        if local is None:
            raise ValidationError({"scheduled_for": ["Give the date and time to start (in the tenant's time zone)."]})
        local = local.replace(tzinfo=ZoneInfo(tenant.timezone)) if timezone.is_naive(local) else local
        if local <= timezone.now():
            raise ValidationError({"scheduled_for": [f"{local:%Y-%m-%d %H:%M} ({tenant.timezone}) has passed: choose a later time, or start now."]})
        return when, local, False
    return when, None, when == "window"


def _group_labels(groups) -> dict[int, str]:
    """Group names, made unambiguous: two groups of one name say which account each is in."""
    names: dict[str, int] = {}
    for group in groups:
        names[group.name] = names.get(group.name, 0) + 1
    labels = {}
    for group in groups:
        label = group.name or f"group {group.ncm_id}"
        if names.get(group.name, 0) > 1:
            label += f" (account {group.account.name if group.account_id and group.account.name else group.account_ncm_id or '?'})"
        labels[group.pk] = label
    seen: dict[str, int] = {}
    for label in labels.values():
        seen[label] = seen.get(label, 0) + 1
    for group in groups:  # still two of a kind (one name in one account): NCM's id tells them apart
        if seen[labels[group.pk]] > 1:
            labels[group.pk] = labels[group.pk].rstrip(")") + (", " if labels[group.pk].endswith(")") else " (") + f"NCM id {group.ncm_id})"
    return labels


@login_required
def job_new(request, tenant_id):
    """One page, four steps. GET filters the router list (keeping what is chosen); POST previews or confirms.

    Step 1 picks Cradlepoint routers/groups and IgniteNet (ecCloud) devices; step 2 offers only the kinds every
    chosen vendor has (ecCloud: config push), saying why the others are disabled."""
    tenant = tenant_or_404(request, tenant_id)
    perms = TenantPermissions(request.user, tenant)
    kinds = _allowed_kinds(perms)
    if not kinds:
        raise PermissionDenied("Your role cannot start jobs on this tenant.")
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "POST" and data.get("kind") and data.get("kind") not in dict(kinds):
        raise PermissionDenied("Your role does not allow this kind of job on this tenant.")
    # No kind is assumed: the parameters shown are those of the kind the person picks.
    kind = data.get("kind") if data.get("kind") in dict(kinds) else ""
    routers = mirror.routers_for(request.user, tenant)
    state, group_id, q = data.get("state", ""), data.get("in_group", ""), (data.get("q") or "").strip()
    # The same filters as the routers page and `?state=`/`?group=` in the API (ncm_sync's RouterFilterSet).
    for param, apply in WIZARD_FILTERS.items():
        if data.get(param):
            routers = apply(routers, data.get(param))
    if q:
        routers = ncm_selectors.search(routers, q)  # name, serial, MAC or IP, through the search index
    routers = routers.order_by("name")
    selected = set(_int_list(data.getlist("routers")))
    selected_groups = set(_int_list(data.getlist("groups")))
    groups = list(
        Group.objects.for_user(request.user).filter(tenant=tenant, deleted_at__isnull=True)
        .select_related("account").order_by("name", "account__name", "pk")
    )
    labels = _group_labels(groups)
    for group in groups:
        group.label = labels[group.pk]
    shown = list(routers[:MAX_PICK])
    for router in shown:
        router.group_label = labels.get(router.group_id, "—")
    # Other vendors' devices (NCM's are the routers above), chosen by their /api/v1/devices/ ids.
    other_devices = device_selectors.devices_for(request.user, tenant).exclude(provider=DeviceProvider.NCM)
    listed_devices = other_devices  # the search box narrows what is listed; choices made stay chosen
    if q:
        listed_devices = other_devices.filter(Q(name__icontains=q) | Q(serial__icontains=q) | Q(mac__icontains=q))
    device_choices = list(listed_devices.order_by("name", "pk")[:MAX_PICK])
    selected_devices = set(_int_list(data.getlist("devices")))
    chosen_devices = list(other_devices.filter(pk__in=selected_devices))
    selected_devices = {d.pk for d in chosen_devices}  # unknown or foreign ids are dropped (the service checks too)
    vendors = {d.provider for d in chosen_devices}
    if selected or selected_groups or data.get("select") == "matching":
        vendors.add(DeviceProvider.NCM)
    change_rows = _change_rows(data)
    shown_rows = change_rows + [{"key": "", "value": "", "remove": False}] * max(1, CHANGE_ROWS_MIN - len(change_rows))
    kind_choices = _kind_choices(kinds, vendors)
    windows = MaintenanceWindow.objects.filter(tenant=tenant, enabled=True).exists()
    when = data.get("when") if data.get("when") in WHEN_CHOICES else "now"
    context = tenant_context(
        request, tenant, kinds=kinds, kind_choices=kind_choices, kind_values=[value for value, _label in kinds], kind=kind,
        groups=groups, routers=shown,
        matching=routers.count(), selected=selected, selected_groups=selected_groups, state=state, group_id=group_id,
        q=q, speed_test_types=SPEED_TEST_TYPES, all_speed_tests=ALL_SPEED_TESTS, test_type=data.get("test_type", ""), mode=data.get("mode", "patch"),
        diff=data.get("diff", ""), offline=data.get("offline", "fail"), when=when,
        scheduled_for=data.get("scheduled_for", ""), has_windows=windows, step=1, errors=[],
        hidden_selected=sorted(selected - {r.pk for r in shown}),
        device_choices=device_choices, selected_devices=selected_devices,
        hidden_selected_devices=sorted(selected_devices - {d.pk for d in device_choices}),
        vendors=sorted(vendors), change_rows=change_rows, shown_rows=shown_rows,
        provider_labels={name: provider.label for name, provider in PROVIDERS.items()},
        version=data.get("version", ""), allow_downgrade=data.get("allow_downgrade") == "on",
        rollout_presets=[(key, label) for key, (label, _w) in ROLLOUT_PRESETS.items()],
        rollout=data.get("rollout") if data.get("rollout") in ROLLOUT_PRESETS else "", waves=data.get("waves", ""),
        halt_after_failures=data.get("halt_after_failures", "1"), pause_minutes=data.get("pause_minutes", "0"),
        approval_threshold=tenant.organization.job_approval_threshold,
    )
    if request.method != "POST":
        return render(request, "ui/jobs/new.html", context)

    if data.get("select") == "matching":
        selected = set(routers.values_list("pk", flat=True)[:MAX_PICK])
        context["selected"] = selected
    step = data.get("step")
    device_ids = sorted(selected_devices) or None
    try:
        if not kind:
            raise ValidationError({"kind": ["Choose what the job does (step 2)."]})
        if not (selected or selected_groups or selected_devices):
            raise ValidationError({"routers": ["Choose at least one router, group or device (step 1)."]})
        reason = next(c["reason"] for c in kind_choices if c["value"] == kind)
        if reason:
            offered = [c["label"].lower() for c in kind_choices if not c["reason"]]
            raise ValidationError({"kind": [reason + (f" Offered for it: {', '.join(offered)}." if offered else "")]})
        parameters = _parameters(kind, data, vendors, change_rows)
        rollout = _rollout(data)
        when, scheduled_for, wait_for_window = _schedule(tenant, data)
        if wait_for_window and not windows:
            raise ValidationError({"when": ["This tenant has no enabled maintenance window: add one, or start now."]})
        if step == "confirm":
            # The API's service: it checks the targets, each vendor's capabilities, the role, and audits.
            with transaction.atomic():
                job = job_services.job_create(
                    user=request.user, tenant=tenant, kind=kind, router_ids=sorted(selected),
                    group_ids=sorted(selected_groups), parameters=parameters, source="ui",
                    scheduled_for=scheduled_for, wait_for_window=wait_for_window, rollout=rollout,
                    device_ids=device_ids,
                )
            if job.status == "awaiting_approval":
                messages.warning(request, f"Job #{job.pk} waits for another user's approval ({job.device_count} devices "
                                          f"is over the threshold of {tenant.organization.job_approval_threshold}).")
                return redirect("ui:job-detail", tenant_id=tenant.pk, job_id=job.pk)
            starts = (f", starting {job.scheduled_for.astimezone(ZoneInfo(tenant.timezone)):%Y-%m-%d %H:%M} ({tenant.timezone})"
                      if job.status == "scheduled" else "")
            messages.success(request, f"Job #{job.pk} created: {job.get_kind_display().lower()} of "
                                      f"{len(selected) + len(selected_groups) + len(selected_devices)} target(s){starts}.")
            return redirect("ui:job-detail", tenant_id=tenant.pk, job_id=job.pk)
        preview = job_preview(user=request.user, tenant=tenant, kind=kind, router_ids=sorted(selected),
                              group_ids=sorted(selected_groups), parameters=parameters, device_ids=device_ids)
        rollout = job_services.validate_rollout(rollout)
    except ValidationError as exc:
        context["errors"] = _errors(exc)
        return render(request, "ui/jobs/new.html", context, status=400)
    for target in preview["targets"]:
        if kind == JobKind.CONFIG_PUSH and "device" in target:  # another vendor's device (jobs.devices)
            target["current_json"] = json.dumps(target.get("current"), indent=2, sort_keys=True)
            target["after_json"] = json.dumps(target.get("result"), indent=2, sort_keys=True)
            target["vendor_label"] = PROVIDERS[target["provider"]].label if target.get("provider") in PROVIDERS else ""
        elif kind == JobKind.CONFIG_PUSH:
            target["current_json"] = json.dumps(target["current"], indent=2, sort_keys=True)
            target["after_json"] = json.dumps(target["after"], indent=2, sort_keys=True)
    if wait_for_window:
        start = job_services.next_window_start(tenant, timezone.now())
        starts = f"at the next maintenance window, {start.astimezone(ZoneInfo(tenant.timezone)):%A %Y-%m-%d %H:%M} ({tenant.timezone})"
    elif scheduled_for:
        starts = f"at {scheduled_for:%A %Y-%m-%d %H:%M} ({tenant.timezone})"
    else:
        starts = "now"
    context.update(step=4, preview=preview, selected=selected, parameters_json=json.dumps(parameters, indent=2),
                   starts=starts, kind_label=dict(kinds)[kind], rollout_plan=rollout,
                   approval_note=_approval_note(tenant, sorted(selected), sorted(selected_groups), request.user,
                                                len(selected_devices)),
                   offline_count=sum(1 for t in preview["targets"] if t.get("warning")),
                   ncm_targets=[t for t in preview["targets"] if "device" not in t],
                   device_targets=[t for t in preview["targets"] if "device" in t])
    return render(request, "ui/jobs/new.html", context)


def _job_or_404(request, tenant, job_id) -> Job:
    return get_object_or_404(Job.objects.for_user(request.user).filter(tenant=tenant).select_related("created_by", "retry_of", "approved_by"), pk=job_id)


@login_required
def job_detail(request, tenant_id, job_id):
    tenant = tenant_or_404(request, tenant_id)
    job = _job_or_404(request, tenant, job_id)
    items = list(JobItem.objects.filter(job=job).select_related("router", "group", "device").order_by("id"))
    for item in items:
        item.summary = item_summary(job.kind, item.status, item.result, item.error)
    total = len(items) or 1
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status] = counts.get(item.status, 0) + 1
    done = sum(counts.get(s, 0) for s in ("succeeded", "failed", "unknown", "cancelled", "skipped"))
    can_operate = Job.objects.for_user(request.user, Action.CHANGE).filter(pk=job.pk).exists()
    finished = job.status in TERMINAL_JOB_STATUSES
    awaiting = job.status == JobStatus.AWAITING_APPROVAL
    own = job.created_by_id == request.user.pk
    context = tenant_context(
        request, tenant, job=job, items=items, counts=counts, done=done, total=len(items), finished=finished,
        counts_text=counts_summary({**counts, "total": len(items)}),
        parameters_json=json.dumps(job.parameters, indent=2, sort_keys=True) if job.parameters else "",
        pct={s: round(100 * counts.get(s, 0) / total, 1) for s in ("succeeded", "failed", "unknown", "cancelled", "skipped", "dispatched")},
        can_cancel=can_operate and not finished,
        can_retry=can_operate and finished and (counts.get(ItemStatus.FAILED, 0) or counts.get(ItemStatus.UNKNOWN, 0)),
        log=job.log.order_by("-created_at")[:50],
        waves=job_services.wave_summary(job), awaiting=awaiting, own_job=own,
        can_approve=can_operate and awaiting and not own, can_resume=can_operate and job.status == JobStatus.HALTED,
        approval_threshold=tenant.organization.job_approval_threshold,
    )
    return render(request, "ui/jobs/detail.html", context)


def _control(request, tenant_id, job_id, action: str):
    """Approve, reject or resume from the job page: the service authorizes (two-person rule, the kind's action)."""
    tenant = tenant_or_404(request, tenant_id)
    job = _job_or_404(request, tenant, job_id)
    if not Job.objects.for_user(request.user, Action.CHANGE).filter(pk=job.pk).exists():
        raise PermissionDenied(f"Your role cannot {action} this job.")
    try:
        with transaction.atomic():
            if action == "approve":
                job_services.job_approve(job=job, user=request.user, source="ui")
                messages.success(request, f"Job #{job.pk} approved.")
            elif action == "reject":
                job_services.job_reject(job=job, user=request.user, reason=(request.POST.get("reason") or "")[:500], source="ui")
                messages.success(request, f"Job #{job.pk} rejected: nothing was sent.")
            else:
                job_services.job_resume(job=job, user=request.user, source="ui")
                messages.success(request, f"Job #{job.pk} resumed with its next wave.")
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    return redirect("ui:job-detail", tenant_id=tenant.pk, job_id=job.pk)


@login_required
@require_POST
def job_approve(request, tenant_id, job_id):
    return _control(request, tenant_id, job_id, "approve")


@login_required
@require_POST
def job_reject(request, tenant_id, job_id):
    return _control(request, tenant_id, job_id, "reject")


@login_required
@require_POST
def job_resume(request, tenant_id, job_id):
    return _control(request, tenant_id, job_id, "resume")


@login_required
@require_POST
def job_cancel(request, tenant_id, job_id):
    tenant = tenant_or_404(request, tenant_id)
    job = _job_or_404(request, tenant, job_id)
    if not Job.objects.for_user(request.user, Action.CHANGE).filter(pk=job.pk).exists():
        raise PermissionDenied("Your role cannot cancel this job.")
    try:
        with transaction.atomic():
            job_services.job_cancel(job=job, user=request.user, source="ui")
        messages.success(request, f"Job #{job.pk} cancelled; items already sent to NCM finish on their own.")
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    return redirect("ui:job-detail", tenant_id=tenant.pk, job_id=job.pk)


@login_required
@require_POST
def job_retry(request, tenant_id, job_id):
    tenant = tenant_or_404(request, tenant_id)
    job = _job_or_404(request, tenant, job_id)
    if not Job.objects.for_user(request.user, Action.CHANGE).filter(pk=job.pk).exists():
        raise PermissionDenied("Your role cannot retry this job.")
    try:
        with transaction.atomic():
            new = job_services.job_retry_failed(job=job, user=request.user, source="ui",
                                                include_unknown=request.POST.get("include_unknown") == "on")
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("ui:job-detail", tenant_id=tenant.pk, job_id=job.pk)
    messages.success(request, f"Job #{new.pk} retries the failed devices of job #{job.pk}.")
    return redirect("ui:job-detail", tenant_id=tenant.pk, job_id=new.pk)


@login_required
def job_list(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    qs = Job.objects.for_user(request.user).filter(tenant=tenant).select_related("created_by")
    columns = [
        Column("id", "Job", value="pk", order_by="id", clickable=False,
               render=lambda j: format_html('<a href="{}">#{}</a>', reverse("ui:job-detail", args=[tenant.pk, j.pk]), j.pk)),
        Column("kind", "Kind", value=lambda j: j.get_kind_display(), order_by="kind"),
        Column("status", "Status", value="status", order_by="status", render=lambda j: badge(j.status, j.get_status_display())),
        Column("targets", "Targets", value=lambda j: (j.counts or {}).get("total", 0), css="num", clickable=False),
        Column("succeeded", "Succeeded", value=lambda j: (j.counts or {}).get("succeeded", 0), css="num", clickable=False),
        Column("failed", "Failed", value=lambda j: (j.counts or {}).get("failed", 0), css="num", clickable=False),
        Column("by", "By", value="created_by.username", order_by="created_by__username"),
        when_column("created", "Created", "created_at", order_by="created_at"),
        when_column("scheduled", "Scheduled for", "scheduled_for", order_by="scheduled_for", never="—"),
    ]
    table = DataTable(
        request, qs, columns, table_id="jobs-table", title=f"{tenant.name}: jobs", export_name=f"{tenant.slug}-jobs",
        search_fields=["kind", "status", "created_by__username"], default_sort="-id",
        filters={"status": lambda q, v: q.filter(status=v), "kind": lambda q, v: q.filter(kind=v)},
        empty_message="No jobs yet.",
    )
    export = table.export_response()
    if export:
        return export
    perms = TenantPermissions(request.user, tenant)
    return render(request, "ui/jobs/list.html", tenant_context(request, tenant, table=table, noun="jobs", can_start=bool(_allowed_kinds(perms))))
