"""Scheduled reports: per tenant, a weekly or monthly PDF (uptime, usage, alerts, licences) under the MSP's name
(white label: the organization's name, and its logo when HISTORY_REPORT_LOGO_DIR holds `<slug>.png`), emailed
through Django's email backend (SMTP from the environment in production, files under var/mail in the demo) and
kept in a report history with download.

Periods are whole UTC periods: a monthly report covers the previous calendar month, a weekly one the previous
Monday-to-Monday week. `send_due_reports` (beat, every 15 minutes) runs each enabled schedule whose
`next_run_at` has passed and moves it to the next period start: a schedule runs once per period even when
several beats overlap (the row is claimed with select_for_update(skip_locked)).
"""
from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from history.models import Licence, Report, ReportFrequency, ReportSchedule, ReportStatus, Rollup
from history.selectors import EXPIRY_WINDOWS, licence_expiry_counts
from portal.audit import AuditAction, record_change, snapshot
from portal.authorization import require_action
from portal.roles import Action

logger = logging.getLogger(__name__)

__all__ = ["period_for", "next_period_start", "report_figures", "render_pdf", "generate_report", "send_report",
           "send_due_reports", "report_schedule_save", "report_schedule_delete"]

MAX_RECIPIENTS = 20


def _month_start(at: datetime) -> datetime:
    return at.astimezone(dt_timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _week_start(at: datetime) -> datetime:
    day = at.astimezone(dt_timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def period_for(frequency: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last complete period before `now`: (start, end), end exclusive."""
    now = now or timezone.now()
    if frequency == ReportFrequency.WEEKLY:
        end = _week_start(now)
        return end - timedelta(days=7), end
    end = _month_start(now)
    return _month_start(end - timedelta(days=1)), end


def next_period_start(frequency: str, now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    if frequency == ReportFrequency.WEEKLY:
        return _week_start(now) + timedelta(days=7)
    return _month_start(_month_start(now) + timedelta(days=32))


def report_figures(tenant, start: datetime, end: datetime, now: datetime | None = None) -> dict:
    """The numbers a report shows, from the roll-ups (uptime, usage), the alert mirror and the licences."""
    from ncm_sync.models import Alert, Router
    from ncm_sync.selectors import alert_type_label, open_alert_q

    now = now or timezone.now()
    rollups = Rollup.objects.filter(tenant=tenant, period="day", bucket__gte=start, bucket__lt=end)
    state = rollups.filter(kind="state").aggregate(on=Sum("online_seconds"), off=Sum("offline_seconds"))
    on, off = state["on"] or 0.0, state["off"] or 0.0
    per_router = {r["router_id"]: r for r in rollups.filter(kind="state").values("router_id").annotate(
        on=Sum("online_seconds"), off=Sum("offline_seconds"))}
    names = dict(Router.objects.filter(tenant=tenant).values_list("pk", "name"))
    worst_uptime = sorted(
        ({"router": names.get(pk) or str(pk), "uptime_percent": round(100.0 * r["on"] / (r["on"] + r["off"]), 2)}
         for pk, r in per_router.items() if (r["on"] or 0) + (r["off"] or 0) > 0),
        key=lambda r: r["uptime_percent"])[:10]
    usage = rollups.filter(kind="usage").aggregate(i=Sum("bytes_in"), o=Sum("bytes_out"))
    top_usage = [
        {"router": names.get(r["router_id"]) or str(r["router_id"]), "bytes_in": r["i"], "bytes_out": r["o"],
         "bytes_total": (r["i"] or 0) + (r["o"] or 0)}
        for r in rollups.filter(kind="usage").values("router_id").annotate(i=Sum("bytes_in"), o=Sum("bytes_out"))
        .order_by("-i")[:10]
    ]
    alerts = Alert.objects.filter(tenant=tenant, ncm_created_at__gte=start, ncm_created_at__lt=end)
    by_type = [{"type": alert_type_label(r["type"]), "count": r["n"]}
               for r in alerts.values("type").annotate(n=Count("id")).order_by("-n", "type")[:10]]
    licences = Licence.objects.filter(tenant=tenant)
    counts = licence_expiry_counts(licences, now=now)
    ending = [
        {"subscription": r["subscription__name"] or r["subscription_ncm_id"], "end_time": r["end_time"].isoformat(),
         "devices": r["n"]}
        for r in licences.filter(end_time__gt=now, end_time__lte=now + timedelta(days=max(EXPIRY_WINDOWS)))
        .values("subscription__name", "subscription_ncm_id", "end_time").annotate(n=Count("id")).order_by("end_time")[:10]
    ]
    return {
        "tenant": tenant.name, "msp": tenant.organization.name, "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "uptime": {"percent": round(100.0 * on / (on + off), 2) if on + off else None, "online_seconds": on,
                   "offline_seconds": off, "worst_routers": worst_uptime},
        "usage": {"bytes_in": usage["i"] or 0, "bytes_out": usage["o"] or 0,
                  "bytes_total": (usage["i"] or 0) + (usage["o"] or 0), "top_routers": top_usage},
        "alerts": {"total": alerts.count(), "open": alerts.filter(open_alert_q()).count(), "by_type": by_type},
        "licences": {"total": licences.count(), "expired": counts["expired"],
                     **{f"within_{d}_days": counts[d] for d in EXPIRY_WINDOWS}, "ending": ending},
    }


def _bytes(value) -> str:
    value = float(value or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} PB"


def _logo(organization) -> Path | None:
    path = Path(settings.HISTORY_REPORT_LOGO_DIR) / f"{organization.slug}.png"
    return path if path.is_file() else None


def render_pdf(tenant, figures: dict, frequency: str) -> bytes:
    """The report as a PDF (reportlab), titled with the MSP's name."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    msp = tenant.organization.name
    start = figures["period_start"][:10]
    end = (datetime.fromisoformat(figures["period_end"]) - timedelta(days=1)).date().isoformat()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"{msp}: {tenant.name} {frequency} report", author=msp,
                            leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm)
    story = []
    logo = _logo(tenant.organization)
    if logo:
        story.append(Image(str(logo), width=40 * mm, height=14 * mm, kind="proportional"))
    story += [Paragraph(f"{msp}", styles["Title"]),
              Paragraph(f"{tenant.name}: {frequency} report, {start} to {end} (UTC)", styles["Heading2"]),
              Spacer(1, 4 * mm)]

    def table(rows, widths=None):
        t = Table(rows, colWidths=widths, hAlign="LEFT")
        t.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2ff")), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ]))
        return t

    up, usage, alerts, lic = figures["uptime"], figures["usage"], figures["alerts"], figures["licences"]
    story += [Paragraph("Summary", styles["Heading3"]), table([
        ["Figure", "Value"],
        ["Uptime (all routers)", "—" if up["percent"] is None else f"{up['percent']:.2f} %"],
        ["Data used", _bytes(usage["bytes_total"])],
        ["Received / sent", f"{_bytes(usage['bytes_in'])} / {_bytes(usage['bytes_out'])}"],
        ["Alerts in the period", str(alerts["total"])],
        ["Of which still open", str(alerts["open"])],
        ["Licences ending within 30 / 60 / 90 days",
         f"{lic['within_30_days']} / {lic['within_60_days']} / {lic['within_90_days']}"],
        ["Licences expired", str(lic["expired"])],
    ], [90 * mm, 70 * mm])]
    if up["worst_routers"]:
        story += [Paragraph("Lowest uptime", styles["Heading3"]),
                  table([["Router", "Uptime"]] + [[r["router"], f"{r['uptime_percent']:.2f} %"] for r in up["worst_routers"]],
                        [110 * mm, 50 * mm])]
    if usage["top_routers"]:
        story += [Paragraph("Most data used", styles["Heading3"]),
                  table([["Router", "Received", "Sent"]] + [[r["router"], _bytes(r["bytes_in"]), _bytes(r["bytes_out"])]
                                                            for r in usage["top_routers"]], [90 * mm, 35 * mm, 35 * mm])]
    if alerts["by_type"]:
        story += [Paragraph("Alerts by type", styles["Heading3"]),
                  table([["Type", "Count"]] + [[r["type"], str(r["count"])] for r in alerts["by_type"]], [120 * mm, 40 * mm])]
    if lic["ending"]:
        story += [Paragraph("Licences ending soon", styles["Heading3"]),
                  table([["Subscription", "Ends", "Devices"]] + [[r["subscription"], r["end_time"][:10], str(r["devices"])]
                                                                for r in lic["ending"]], [90 * mm, 40 * mm, 30 * mm])]
    story += [Spacer(1, 6 * mm), Paragraph(f"Prepared by {msp}. Figures from Cradlepoint NCM.", styles["Italic"])]
    doc.build(story)
    return buffer.getvalue()


def generate_report(tenant, frequency: str = ReportFrequency.MONTHLY, *, start=None, end=None, schedule=None,
                    now=None) -> Report:
    if start is None or end is None:
        start, end = period_for(frequency, now)
    figures = report_figures(tenant, start, end, now=now)
    pdf = render_pdf(tenant, figures, frequency)
    return Report.objects.create(tenant=tenant, schedule=schedule, frequency=frequency, period_start=start,
                                 period_end=end, figures=figures, pdf=pdf,
                                 recipients=list(schedule.recipients) if schedule else [])


def send_report(report: Report, recipients: list[str] | None = None) -> Report:
    """Email the PDF through Django's email backend. A failure is recorded on the report (status `failed`)."""
    recipients = list(recipients if recipients is not None else report.recipients)
    tenant = report.tenant
    msp = tenant.organization.name
    end = (report.period_end - timedelta(days=1)).date()
    subject = f"{msp}: {tenant.name} {report.frequency} report {report.period_start:%Y-%m-%d} to {end:%Y-%m-%d}"
    f = report.figures
    up = f["uptime"]["percent"]
    body = (f"{tenant.name}, {report.frequency} report from {msp}\n\n"
            f"Uptime: {'—' if up is None else f'{up:.2f} %'}\n"
            f"Data used: {_bytes(f['usage']['bytes_total'])}\n"
            f"Alerts: {f['alerts']['total']} ({f['alerts']['open']} still open)\n"
            f"Licences ending within 30 days: {f['licences']['within_30_days']}\n\n"
            "The full report is attached (PDF).\n")
    message = EmailMessage(subject=subject, body=body, to=recipients,
                           from_email=f"{msp} <{settings.DEFAULT_FROM_EMAIL}>")
    message.attach(report.filename, bytes(report.pdf), "application/pdf")
    try:
        if not recipients:
            raise ValueError("no recipients")
        message.send(fail_silently=False)
    except Exception as exc:  # SMTP errors are many; the report stays downloadable
        logger.warning("report %s of tenant %s not sent: %s", report.pk, tenant.pk, type(exc).__name__)
        Report.objects.filter(pk=report.pk).update(status=ReportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:500],
                                                   recipients=recipients)
    else:
        Report.objects.filter(pk=report.pk).update(status=ReportStatus.SENT, sent_at=timezone.now(), recipients=recipients,
                                                   error="")
    report.refresh_from_db()
    return report


def send_due_reports(now: datetime | None = None) -> int:
    """Beat: generate and send every enabled schedule whose period has ended. Returns reports sent or tried."""
    now = now or timezone.now()
    done = 0
    due = list(ReportSchedule.objects.filter(enabled=True, next_run_at__lte=now).values_list("pk", flat=True))
    for pk in due:
        with transaction.atomic():
            schedule = (ReportSchedule.objects.select_for_update(skip_locked=True).select_related("tenant__organization")
                        .filter(pk=pk, enabled=True, next_run_at__lte=now).first())
            if schedule is None:
                continue
            schedule.next_run_at = next_period_start(schedule.frequency, now)
            schedule.save(update_fields=["next_run_at", "updated_at"])
        report = generate_report(schedule.tenant, schedule.frequency, schedule=schedule, now=now)
        send_report(report)
        done += 1
    return done


def _clean_recipients(recipients) -> list[str]:
    if isinstance(recipients, str):
        recipients = [r for r in recipients.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(recipients, list | tuple):
        raise ValidationError({"recipients": ["A list of email addresses."]})
    cleaned = []
    for value in recipients:
        value = str(value).strip()
        if not value:
            continue
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"recipients": [f"Not an email address: {value[:100]}"]}) from None
        cleaned.append(value)
    if not cleaned:
        raise ValidationError({"recipients": ["Give at least one email address."]})
    if len(cleaned) > MAX_RECIPIENTS:
        raise ValidationError({"recipients": [f"At most {MAX_RECIPIENTS} addresses."]})
    return sorted(set(cleaned), key=cleaned.index)


def report_schedule_save(*, actor, tenant, frequency: str, recipients, enabled: bool = True,
                         schedule: ReportSchedule | None = None) -> ReportSchedule:
    """Create or update a tenant's report schedule (needs `change` on the tenant, and on the old one)."""
    if actor is not None:
        require_action(actor, Action.CHANGE, tenant=tenant)
        if schedule is not None and schedule.pk:
            require_action(actor, Action.CHANGE, tenant=schedule.tenant)
    if frequency not in ReportFrequency.values:
        raise ValidationError({"frequency": [f"One of: {', '.join(ReportFrequency.values)}."]})
    cleaned = _clean_recipients(recipients)
    with transaction.atomic():
        before = snapshot(schedule) if schedule is not None and schedule.pk else None
        schedule = schedule or ReportSchedule()
        changed_frequency = schedule.pk is None or schedule.frequency != frequency
        schedule.tenant, schedule.frequency, schedule.recipients, schedule.enabled = tenant, frequency, cleaned, enabled
        if changed_frequency or schedule.next_run_at is None:
            schedule.next_run_at = next_period_start(frequency)
        schedule.save()
        if actor is not None:
            record_change(actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, instance=schedule,
                          before=before, after=snapshot(schedule) if before else None)
    return schedule


def report_schedule_delete(*, actor, schedule: ReportSchedule) -> None:
    if actor is not None:
        require_action(actor, Action.CHANGE, tenant=schedule.tenant)
    with transaction.atomic():
        before = snapshot(schedule)
        pk = schedule.pk
        schedule.delete()
        schedule.pk = pk
        if actor is not None:
            record_change(actor=actor, action=AuditAction.DELETE, instance=schedule, before=before)
