"""Queued jobs on a tenant's devices: bulk reboots, speed tests, config pushes; one item per target."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.roles import Action
from portal.models import TenantOwnedModel
from portal.scoping import TenantScopedQuerySet, allowed_organizations, allowed_tenants, is_anonymous, is_operator

__all__ = [
    "JobKind", "JobStatus", "ItemStatus", "Job", "JobItem", "JobLogEntry", "SpeedTestResult", "MaintenanceWindow",
    "KIND_ACTIONS", "TERMINAL_ITEM_STATUSES", "OrgJob",
]


class JobKind(models.TextChoices):
    REBOOT = "reboot", _("Reboot")
    SPEED_TEST = "speed_test", _("Speed test")
    CONFIG_PUSH = "config_push", _("Config push")
    FIRMWARE_UPGRADE = "firmware_upgrade", _("Firmware upgrade")


# The role action each kind needs (a firmware upgrade changes what the devices run: the config push right).
KIND_ACTIONS = {JobKind.REBOOT: Action.REBOOT, JobKind.SPEED_TEST: Action.SPEED_TEST, JobKind.CONFIG_PUSH: Action.PUSH_CONFIG,
                JobKind.FIRMWARE_UPGRADE: Action.PUSH_CONFIG}


class JobStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    PENDING = "pending", _("Pending")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    HALTED = "halted", _("Halted")
    SUCCEEDED = "succeeded", _("Succeeded")
    PARTIAL = "partial", _("Partially succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ItemStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DISPATCHED = "dispatched", _("Dispatched")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown outcome")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")


TERMINAL_ITEM_STATUSES = frozenset(
    {ItemStatus.SUCCEEDED, ItemStatus.FAILED, ItemStatus.UNKNOWN, ItemStatus.CANCELLED, ItemStatus.SKIPPED}
)
TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED})


class JobQuerySet(TenantScopedQuerySet):
    def for_user(self, user, action: str = Action.VIEW):
        """`view` reads jobs of the tenant; `change` (operate: cancel, retry, create) needs the kind's action."""
        if action != Action.CHANGE or is_anonymous(user) or is_operator(user):
            return super().for_user(user, action)
        allowed = Q()
        for kind, kind_action in KIND_ACTIONS.items():
            allowed |= Q(kind=kind, **{f"{self.tenant_lookup}__in": allowed_tenants(user, kind_action).values("id")})
        return self.filter(allowed)


class OrgJobQuerySet(models.QuerySet):
    """An MSP-wide job belongs to its organization: organization-level roles only (a customer's login, or a token
    bound to one tenant, sees its own tenant's part as an ordinary job). `change` needs the kind's action."""

    def for_user(self, user, action: str = Action.VIEW):
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        if action != Action.CHANGE:
            return self.filter(organization__in=allowed_organizations(user, action).values("id"))
        allowed = Q()
        for kind, kind_action in KIND_ACTIONS.items():
            allowed |= Q(kind=kind, organization__in=allowed_organizations(user, kind_action).values("id"))
        return self.filter(allowed)


class OrgJob(models.Model):
    """An MSP-wide job (docs/rollouts.md): one ordinary job per tenant (`Job.org_job`), released wave by wave
    (`rollout.waves_by` = "tenant": canary customers first), each in its tenant's maintenance window and
    in-flight cap; halts like a rollout; approved once for all its devices."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="org_jobs")
    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices)
    status = models.CharField(_("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    targets = models.JSONField(default=list, blank=True, help_text=_("[{tenant, routers, groups}] in wave order."))
    rollout = models.JSONField(null=True, blank=True)
    current_wave = models.PositiveIntegerField(default=0)
    failures_accepted = models.PositiveIntegerField(default=0)
    halt_reason = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    device_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = OrgJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"MSP-wide {self.get_kind_display().lower()} #{self.pk} ({self.status})"


class Job(TenantOwnedModel):
    """A bulk action on a tenant's routers or groups. Items are created when the job starts."""

    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices)
    status = models.CharField(_("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    # Targets as requested (portal ids); groups expand to their routers when the job starts.
    target_router_ids = models.JSONField(default=list, blank=True)
    target_group_ids = models.JSONField(default=list, blank=True)
    # Devices of providers other than NCM (devices.Device ids; NCM devices are stored as their routers).
    target_device_ids = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    scheduled_for = models.DateTimeField(null=True, blank=True, db_index=True)
    wait_for_window = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    # Some task is responsible for the job until then (its start task, a drainer beating, a continuation
    # queued with a countdown). A pending or running job past it has no live work: the sweep resumes it.
    lease_until = models.DateTimeField(null=True, blank=True)
    # Two-person rule (Organization.job_approval_threshold): a job over it waits for another user's approval.
    device_count = models.PositiveIntegerField(default=0, help_text=_("Devices the job acts on (groups expanded)."))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    # Staged rollout (docs/rollouts.md): items run wave by wave; null = all at once.
    rollout = models.JSONField(null=True, blank=True)
    current_wave = models.PositiveIntegerField(default=0, help_text=_("Items of waves up to this one may be sent."))
    wave_ended_at = models.DateTimeField(null=True, blank=True, help_text=_("When the current wave ended (soak start)."))
    failures_accepted = models.PositiveIntegerField(
        default=0, help_text=_("Failed + unknown items accepted by the last resume; the halt count starts above it."))
    halt_reason = models.TextField(blank=True)
    # Part of an MSP-wide job: held (scheduled, no time) until its wave is released.
    org_job = models.ForeignKey(OrgJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    org_wave = models.PositiveIntegerField(default=0)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} job #{self.pk} ({self.status})"


class JobItem(TenantOwnedModel):
    """One target of a job: a router (reboot, speed test, config push) or a group (group config push)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    router = models.ForeignKey("ncm_sync.Router", null=True, blank=True, on_delete=models.SET_NULL, related_name="job_items")
    group = models.ForeignKey("ncm_sync.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="job_items")
    device = models.ForeignKey("devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="job_items",
                               help_text=_("A device of another provider than NCM (ecCloud)."))
    status = models.CharField(max_length=12, choices=ItemStatus.choices, default=ItemStatus.PENDING, db_index=True)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    ncm_ref = models.CharField(max_length=64, blank=True, help_text=_("NCM id of the request (e.g. the speed_test job)."))
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # Beaten while the worker sending the item lives; a dispatched item past it (or, never beaten, past
    # dispatched_at + the dispatch lease) lost its worker and is reaped to `unknown`.
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    wave = models.PositiveIntegerField(default=0, help_text=_("The rollout wave (0 first) this item runs in."))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "router"], condition=Q(router__isnull=False), name="jobitem_unique_router"),
            models.UniqueConstraint(fields=["job", "group"], condition=Q(group__isnull=False), name="jobitem_unique_group"),
            models.UniqueConstraint(fields=["job", "device"], condition=Q(device__isnull=False), name="jobitem_unique_device"),
        ]
        indexes = [models.Index(fields=["job", "status"]), models.Index(fields=["job", "wave", "status"], name="jobitem_job_wave_status")]

    def __str__(self) -> str:
        return f"item {self.pk} of job {self.job_id} ({self.status})"


class JobLogEntry(TenantOwnedModel):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log")
    item = models.ForeignKey(JobItem, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=10, default="info")
    message = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "created_at"])]


class SpeedTestResult(TenantOwnedModel):
    """One modem's speed test outcome, kept as history per modem."""

    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="speed_results")
    router = models.ForeignKey("ncm_sync.Router", null=True, on_delete=models.SET_NULL, related_name="+")
    net_device = models.ForeignKey("ncm_sync.NetDevice", null=True, on_delete=models.SET_NULL, related_name="speed_tests")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    test_type = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20, blank=True)
    download_mbps = models.FloatField(null=True, blank=True)
    upload_mbps = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    raw = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class MaintenanceWindow(TenantOwnedModel):
    """A weekly window, in the tenant's time zone, in which waiting jobs may run."""

    name = models.CharField(max_length=100, blank=True)
    weekday = models.PositiveSmallIntegerField(help_text=_("0 = Monday … 6 = Sunday"))
    start_time = models.TimeField()
    duration_minutes = models.PositiveIntegerField(default=120)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["tenant_id", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="window_weekday_range"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=1) & Q(duration_minutes__lte=10080), name="window_duration_range"),
        ]

    def __str__(self) -> str:
        return self.name or f"window {self.pk}"
