"""MSP-wide jobs (waves of whole tenants, canary customer first) and the firmware inventory across the MSP.
Writes go through jobs.services (authorized there, on the organization), audited as "ui"."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Organization, Tenant
from accounts.roles import Action
from jobs import services as job_services
from jobs.models import KIND_ACTIONS, TERMINAL_JOB_STATUSES, JobKind, JobStatus, OrgJob
from ncm_sync.models import Group, Router
from ncm_sync.selectors import firmware_inventory
from portal.scoping import allowed_organizations
from ui.views.jobs import _errors

MSP_KINDS = (JobKind.FIRMWARE_UPGRADE, JobKind.REBOOT)


def _organizations(user):
    """Organizations where the user may start some MSP-wide job (an organization-level role)."""
    ids = set()
    for kind in MSP_KINDS:
        ids |= set(allowed_organizations(user, KIND_ACTIONS[kind]).values_list("pk", flat=True))
    return list(Organization.objects.filter(pk__in=ids).order_by("name"))


def _parameters(kind: str, data) -> dict:
    if kind == JobKind.FIRMWARE_UPGRADE:
        params = {"version": (data.get("version") or "").strip(), "allow_downgrade": data.get("allow_downgrade") == "on"}
        timeout = (data.get("timeout_minutes") or "").strip()
        if timeout:
            try:
                params["timeout_minutes"] = float(timeout)
            except ValueError:
                raise ValidationError({"timeout_minutes": ["A number of minutes."]}) from None
        return params
    return {"offline": "skip"}


@login_required
def msp_jobs(request):
    """The MSP-wide jobs in scope, the firmware inventory across the MSP, and the form to start one: every group of
    the chosen tenants, the canary tenant first, the others once it ended well."""
    visible = allowed_organizations(request.user, Action.VIEW)
    if not visible.exists():
        raise PermissionDenied("MSP-wide jobs are for organization-level roles.")
    orgs = _organizations(request.user)
    tenants = list(Tenant.objects.filter(organization__in=orgs).select_related("organization").order_by("organization__name", "name"))
    data = request.POST if request.method == "POST" else request.GET
    errors = []
    if request.method == "POST":
        kind = data.get("kind") if data.get("kind") in MSP_KINDS else ""
        chosen = [t for t in tenants if str(t.pk) in data.getlist("tenants")]
        canary = next((t for t in chosen if str(t.pk) == data.get("canary")), chosen[0] if chosen else None)
        try:
            if not kind:
                raise ValidationError({"kind": ["Choose what the job does."]})
            if not chosen:
                raise ValidationError({"tenants": ["Choose at least one tenant."]})
            if len({t.organization_id for t in chosen}) > 1:
                raise ValidationError({"tenants": ["Choose tenants of one organization."]})
            ordered = [canary] + [t for t in chosen if t != canary]
            targets = [{"tenant": t.pk, "groups": list(Group.objects.filter(tenant=t, deleted_at__isnull=True)
                                                       .values_list("pk", flat=True))} for t in ordered]
            rollout = None
            if len(ordered) > 1:
                halt = (data.get("halt_after_failures") or "1").strip()
                pause = (data.get("pause_minutes") or "0").strip()
                rollout = {"waves": [1], "waves_by": "tenant",
                           "halt_after_failures": int(halt) if halt.isdigit() else halt,
                           "pause_minutes": float(pause) if pause.replace(".", "", 1).isdigit() else pause}
            with transaction.atomic():
                org_job = job_services.org_job_create(
                    user=request.user, organization=ordered[0].organization, kind=kind, targets=targets,
                    parameters=_parameters(kind, data), rollout=rollout, source="ui")
            messages.success(request, f"MSP-wide job #{org_job.pk} created" + (
                ": it waits for another user's approval." if org_job.status == JobStatus.AWAITING_APPROVAL else "."))
            return redirect("ui:msp-job-detail", org_job_id=org_job.pk)
        except ValidationError as exc:
            errors = _errors(exc)
    jobs = OrgJob.objects.for_user(request.user).select_related("organization", "created_by")[:50]
    inventory = firmware_inventory(Router.objects.for_user(request.user), Group.objects.for_user(request.user))
    tenant_names = dict(Tenant.objects.for_user(request.user).values_list("pk", "name"))
    for row in inventory["groups_behind"]:
        row["tenant_name"] = tenant_names.get(row["tenant"], row["tenant"])
    return render(request, "ui/rollouts/msp_jobs.html", {
        "jobs": jobs, "orgs": orgs, "tenants": tenants, "inventory": inventory, "errors": errors,
        "kind": data.get("kind", JobKind.FIRMWARE_UPGRADE), "version": data.get("version", ""),
        "chosen": set(data.getlist("tenants")), "canary": data.get("canary", ""),
        "halt_after_failures": data.get("halt_after_failures", "1"), "pause_minutes": data.get("pause_minutes", "0"),
        "timeout_minutes": data.get("timeout_minutes", "60"),
    }, status=400 if errors else 200)


def _org_job_or_404(request, org_job_id) -> OrgJob:
    return get_object_or_404(OrgJob.objects.for_user(request.user).select_related("organization", "created_by", "approved_by"),
                             pk=org_job_id)


@login_required
def msp_job_detail(request, org_job_id):
    org_job = _org_job_or_404(request, org_job_id)
    can_operate = OrgJob.objects.for_user(request.user, Action.CHANGE).filter(pk=org_job.pk).exists()
    finished = org_job.finished_at is not None or org_job.status in TERMINAL_JOB_STATUSES
    awaiting = org_job.status == JobStatus.AWAITING_APPROVAL
    own = org_job.created_by_id == request.user.pk
    return render(request, "ui/rollouts/msp_job_detail.html", {
        "org_job": org_job, "waves": job_services.org_wave_summary(org_job), "finished": finished, "awaiting": awaiting,
        "own_job": own, "can_approve": can_operate and awaiting and not own,
        "can_resume": can_operate and org_job.status == JobStatus.HALTED, "can_cancel": can_operate and not finished,
    })


@login_required
@require_POST
def msp_job_control(request, org_job_id, action):
    org_job = _org_job_or_404(request, org_job_id)
    if not OrgJob.objects.for_user(request.user, Action.CHANGE).filter(pk=org_job.pk).exists():
        raise PermissionDenied(f"Your role cannot {action} this job.")
    try:
        with transaction.atomic():
            if action == "approve":
                job_services.org_job_approve(org_job=org_job, user=request.user, source="ui")
            elif action == "reject":
                job_services.org_job_reject(org_job=org_job, user=request.user, source="ui",
                                            reason=(request.POST.get("reason") or "")[:500])
            elif action == "resume":
                job_services.org_job_resume(org_job=org_job, user=request.user, source="ui")
            elif action == "cancel":
                job_services.org_job_cancel(org_job=org_job, user=request.user, source="ui")
            else:
                raise PermissionDenied("Unknown action.")
        messages.success(request, f"MSP-wide job #{org_job.pk}: {action} done.")
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    return redirect("ui:msp-job-detail", org_job_id=org_job.pk)
