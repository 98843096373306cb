"""NCM's time series, stored per tenant and device (docs/history.md).

Raw samples (one table per NCM endpoint, NCM's fields under NCM's names, plus `created_at_timeuuid`) are kept
`HISTORY_RAW_RETENTION_DAYS` (30); hourly and daily roll-ups (`Rollup`) `HISTORY_ROLLUP_RETENTION_DAYS` (395).
Each sample table has a unique (device, created_at_timeuuid) (the collector inserts with ON CONFLICT DO
NOTHING: a resync never duplicates), a btree on (tenant, device, created_at) for a device's range, and on
PostgreSQL a BRIN on created_at (migration 0002) for retention and fleet-wide time scans: appended in time
order, BRIN stays a few pages for a year of 10k devices.
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import TenantOwnedModel


class Sample(TenantOwnedModel):
    created_at = models.DateTimeField(_("created at"), help_text=_("NCM's created_at."))
    created_at_timeuuid = models.CharField(max_length=64, help_text=_("NCM's created_at_timeuuid (paging cursor)."))

    DEVICE_FIELD = "net_device"
    NCM_FIELDS: tuple[str, ...] = ()

    class Meta:
        abstract = True


def _sample_meta(name: str, device: str):
    return type("Meta", (), {
        "ordering": ["-created_at", "-id"],
        "constraints": [models.UniqueConstraint(fields=[device, "created_at_timeuuid"], name=f"hist_{name}_uniq")],
        "indexes": [models.Index(fields=["tenant", device, "created_at"], name=f"hist_{name}_dev_time")],
    })


class SignalSample(Sample):
    """net_device_signal_samples."""

    net_device = models.ForeignKey("ncm_sync.NetDevice", on_delete=models.CASCADE, related_name="+", db_index=False)
    cinr = models.FloatField(null=True, blank=True)
    dbm = models.IntegerField(null=True, blank=True)
    ecio = models.IntegerField(null=True, blank=True)
    rsrp = models.FloatField(null=True, blank=True)
    rsrp5g = models.FloatField(null=True, blank=True)
    rsrq = models.FloatField(null=True, blank=True)
    rsrq5g = models.FloatField(null=True, blank=True)
    rssi = models.IntegerField(null=True, blank=True)
    signal_percent = models.IntegerField(null=True, blank=True)
    sinr = models.FloatField(null=True, blank=True)
    sinr5g = models.FloatField(null=True, blank=True)
    uptime = models.FloatField(null=True, blank=True)

    NCM_FIELDS = ("cinr", "dbm", "ecio", "rsrp", "rsrp5g", "rsrq", "rsrq5g", "rssi", "signal_percent", "sinr",
                  "sinr5g", "uptime")
    Meta = _sample_meta("signal", "net_device")


class UsageSample(Sample):
    """net_device_usage_samples."""

    net_device = models.ForeignKey("ncm_sync.NetDevice", on_delete=models.CASCADE, related_name="+", db_index=False)
    bytes_in = models.BigIntegerField(null=True, blank=True)
    bytes_out = models.BigIntegerField(null=True, blank=True)
    period = models.FloatField(null=True, blank=True)
    uptime = models.FloatField(null=True, blank=True)

    NCM_FIELDS = ("bytes_in", "bytes_out", "period", "uptime")
    Meta = _sample_meta("usage", "net_device")


class StateSample(Sample):
    """router_state_samples."""

    router = models.ForeignKey("ncm_sync.Router", on_delete=models.CASCADE, related_name="+", db_index=False)
    state = models.CharField(max_length=20, blank=True)
    period = models.FloatField(null=True, blank=True)

    DEVICE_FIELD = "router"
    NCM_FIELDS = ("state", "period")
    Meta = _sample_meta("state", "router")


class StreamUsageSample(Sample):
    """router_stream_usage_samples (NCM management traffic only)."""

    router = models.ForeignKey("ncm_sync.Router", on_delete=models.CASCADE, related_name="+", db_index=False)
    bytes_in = models.BigIntegerField(null=True, blank=True)
    bytes_out = models.BigIntegerField(null=True, blank=True)
    period = models.FloatField(null=True, blank=True)
    uptime = models.FloatField(null=True, blank=True)

    DEVICE_FIELD = "router"
    NCM_FIELDS = ("bytes_in", "bytes_out", "period", "uptime")
    Meta = _sample_meta("stream", "router")


class LocationSample(Sample):
    """historical_locations."""

    router = models.ForeignKey("ncm_sync.Router", on_delete=models.CASCADE, related_name="+", db_index=False)
    accuracy = models.FloatField(null=True, blank=True)
    carrier_id = models.CharField(max_length=64, blank=True)
    cinr = models.FloatField(null=True, blank=True)
    dbm = models.IntegerField(null=True, blank=True)
    ecio = models.IntegerField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    mph = models.FloatField(null=True, blank=True)
    net_device_name = models.CharField(max_length=100, blank=True)
    rfband = models.CharField(max_length=40, blank=True)
    rfband_5g = models.CharField(max_length=40, blank=True)
    rsrp = models.FloatField(null=True, blank=True)
    rsrp_5g = models.FloatField(null=True, blank=True)
    rsrq = models.FloatField(null=True, blank=True)
    rsrq_5g = models.FloatField(null=True, blank=True)
    rssi = models.IntegerField(null=True, blank=True)
    signal_percent = models.IntegerField(null=True, blank=True)
    sinr = models.FloatField(null=True, blank=True)
    sinr_5g = models.FloatField(null=True, blank=True)
    summary = models.CharField(max_length=40, blank=True)

    DEVICE_FIELD = "router"
    NCM_FIELDS = ("accuracy", "carrier_id", "cinr", "dbm", "ecio", "latitude", "longitude", "mph", "net_device_name",
                  "rfband", "rfband_5g", "rsrp", "rsrp_5g", "rsrq", "rsrq_5g", "rssi", "signal_percent", "sinr",
                  "sinr_5g", "summary")
    Meta = _sample_meta("location", "router")


class RouterLog(Sample):
    """router_logs."""

    router = models.ForeignKey("ncm_sync.Router", on_delete=models.CASCADE, related_name="+", db_index=False)
    level = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    exception = models.TextField(blank=True)
    sequence = models.BigIntegerField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    DEVICE_FIELD = "router"
    NCM_FIELDS = ("level", "source", "message", "exception", "sequence", "reported_at")
    Meta = _sample_meta("log", "router")


class Cursor(TenantOwnedModel):
    """Where collection of one endpoint for one device stands: every sample up to `cursor` is stored, and
    every sample from `covered_from` on (the start of the stored range)."""

    kind = models.CharField(max_length=20)
    device_id = models.BigIntegerField(help_text=_("Portal id of the router or net device."))
    cursor = models.CharField(max_length=64, help_text=_("Largest created_at_timeuuid stored (or a floor)."))
    cursor_at = models.DateTimeField()
    covered_from = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "device_id"], name="hist_cursor_uniq")]
        indexes = [models.Index(fields=["tenant", "kind"], name="hist_cursor_tenant_kind")]


class Period(models.TextChoices):
    HOUR = "hour", _("Hour")
    DAY = "day", _("Day")
    MONTH = "month", _("Month")


class RollupKind(models.TextChoices):
    USAGE = "usage", _("Usage")
    SIGNAL = "signal", _("Signal")
    STATE = "state", _("State")


class Rollup(TenantOwnedModel):
    """Hourly, daily or monthly aggregate (UTC buckets) of one device's samples of one kind (monthly ones are
    summed from the daily ones, so they outlive the raw samples).

    usage: bytes_in/bytes_out sums; signal: rsrp/rsrq/sinr averages and rsrp minimum; state: seconds online
    and offline (sums of `period` by state). `samples` counts the raw samples summed."""

    kind = models.CharField(max_length=10, choices=RollupKind.choices)
    period = models.CharField(max_length=5, choices=Period.choices)
    bucket = models.DateTimeField()
    device_id = models.BigIntegerField(help_text=_("Portal id of the net device (usage, signal) or router (state)."))
    router = models.ForeignKey("ncm_sync.Router", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    net_device = models.ForeignKey("ncm_sync.NetDevice", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+", db_index=False)
    samples = models.IntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    rsrp = models.FloatField(null=True, blank=True)
    rsrq = models.FloatField(null=True, blank=True)
    sinr = models.FloatField(null=True, blank=True)
    rsrp_min = models.FloatField(null=True, blank=True)
    online_seconds = models.FloatField(default=0)
    offline_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-bucket", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "period", "device_id", "bucket"], name="hist_rollup_uniq")]
        indexes = [
            models.Index(fields=["tenant", "kind", "period", "bucket"], name="hist_rollup_tenant_time"),
            models.Index(fields=["router", "kind", "period", "bucket"], name="hist_rollup_router_time"),
        ]

    @property
    def uptime_percent(self):
        total = self.online_seconds + self.offline_seconds
        return round(100.0 * self.online_seconds / total, 2) if total else None


class Subscription(TenantOwnedModel):
    """An NCM v3 subscription (licence plan) of the tenant's NCM account."""

    ncm_id = models.CharField(_("NCM id"), max_length=100)
    name = models.CharField(max_length=200, blank=True)
    type = models.CharField(max_length=100, blank=True)
    quantity = models.IntegerField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField()
    warned_end_time = models.DateTimeField(null=True, blank=True,
                                           help_text=_("End time `licence.expiring` was last announced for."))

    class Meta:
        ordering = ["end_time", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "ncm_id"], name="hist_subscription_uniq")]

    def __str__(self) -> str:
        return self.name or self.ncm_id


class Licence(TenantOwnedModel):
    """An NCM v3 asset endpoint: one device's licence (its subscription and end date)."""

    ncm_id = models.CharField(_("NCM id"), max_length=100)
    mac_address = models.CharField(max_length=32, blank=True, db_index=True)
    serial_number = models.CharField(max_length=64, blank=True)
    hardware_series = models.CharField(max_length=64, blank=True)
    subscription_ncm_id = models.CharField(max_length=100, blank=True)
    subscription = models.ForeignKey(Subscription, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="licences")
    router = models.ForeignKey("ncm_sync.Router", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    end_time = models.DateTimeField(null=True, blank=True, help_text=_("The subscription's end."))
    data = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["end_time", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "ncm_id"], name="hist_licence_uniq")]
        indexes = [models.Index(fields=["tenant", "end_time"], name="hist_licence_tenant_end")]

    def __str__(self) -> str:
        return f"licence {self.ncm_id}"


class ReportFrequency(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")


class ReportSchedule(TenantOwnedModel):
    """A tenant's scheduled PDF report (uptime, usage, alerts, licences) and who receives it."""

    frequency = models.CharField(max_length=10, choices=ReportFrequency.choices, default=ReportFrequency.MONTHLY)
    recipients = models.JSONField(default=list, help_text=_("Email addresses."))
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                       help_text=_("When the next report is due (start of the next period, UTC)."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "id"]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} report of tenant {self.tenant_id}"


class ReportStatus(models.TextChoices):
    GENERATED = "generated", _("Generated")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Sending failed")


class Report(TenantOwnedModel):
    """One generated report: the PDF, the figures it shows, and to whom it was sent."""

    schedule = models.ForeignKey(ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    frequency = models.CharField(max_length=10, choices=ReportFrequency.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.GENERATED)
    recipients = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    figures = models.JSONField(default=dict, blank=True)
    pdf = models.BinaryField(editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="hist_report_tenant_created")]

    def __str__(self) -> str:
        return f"{self.frequency} report {self.period_start:%Y-%m-%d} of tenant {self.tenant_id}"

    @property
    def filename(self) -> str:
        return f"report-{self.tenant_id}-{self.frequency}-{self.period_start:%Y-%m-%d}.pdf"
