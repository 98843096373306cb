"""Scheduled reports: generated with the right numbers, sent through Django's file email backend with the PDF
attached and the MSP's name, kept in the history with a download; the schedule runs once per period."""
from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from history.models import Licence, Report, ReportSchedule, StateSample, Subscription, UsageSample
from history.reports import generate_report, period_for, send_due_reports, send_report
from history.services import rollup
from ncm_sync.models import Alert, NetDevice, Router
from tests.factories import make_org, make_tenant
from tests.fleet import mirror_row

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)  # the November report is due


@pytest.fixture
def mailbox(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return Path(settings.EMAIL_FILE_PATH)


def _messages(folder: Path):
    out = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                out.append(email.message_from_bytes(chunk.strip()))
    return out


def _tenant_with_history():
    tenant = make_tenant(make_org("Northwind MSP"), "Bakery Chain")
    r1, r2 = mirror_row(Router, tenant, name="store-1"), mirror_row(Router, tenant, name="store-2")
    m1 = mirror_row(NetDevice, tenant, name="mdm-1", mode="wan", router=r1)
    m2 = mirror_row(NetDevice, tenant, name="mdm-2", mode="wan", router=r2)
    n = 0
    for day in range(30):  # November
        at = datetime(2026, 11, 1, 12, tzinfo=UTC) + timedelta(days=day)
        for modem, b_in in ((m1, 1_000_000), (m2, 3_000_000)):
            n += 1
            UsageSample.objects.create(tenant=tenant, net_device=modem, created_at=at, created_at_timeuuid=f"u{n}",
                                       bytes_in=b_in, bytes_out=b_in // 10, period=3600)
        StateSample.objects.create(tenant=tenant, router=r1, created_at=at, created_at_timeuuid=f"s1-{day}",
                                   state="online", period=86400)
        StateSample.objects.create(tenant=tenant, router=r2, created_at=at, created_at_timeuuid=f"s2-{day}",
                                   state="offline" if day < 3 else "online", period=86400)
    # Outside the period: not counted.
    UsageSample.objects.create(tenant=tenant, net_device=m1, created_at=datetime(2026, 12, 2, tzinfo=UTC),
                               created_at_timeuuid="late", bytes_in=999_999_999, bytes_out=0)
    for kind in ("usage", "state"):
        rollup(tenant, kind)
    for i, (atype, info) in enumerate((("connection_state", {"state": "offline"}), ("wan_service_type", {}),
                                       ("connection_state", {"state": "offline"}))):
        mirror_row(Alert, tenant, type=atype, router=r2, ncm_created_at=datetime(2026, 11, 10 + i, tzinfo=UTC),
                   data={"info": info})
    sub = Subscription.objects.create(tenant=tenant, ncm_id="s1", name="NetCloud Branch Essentials",
                                      end_time=NOW + timedelta(days=20), last_seen_at=NOW)
    for r in (r1, r2):
        Licence.objects.create(tenant=tenant, ncm_id=f"ae-{r.pk}", subscription=sub, subscription_ncm_id="s1",
                               end_time=sub.end_time, router=r, last_seen_at=NOW)
    return tenant


def test_monthly_report_numbers_and_mail(mailbox):
    tenant = _tenant_with_history()
    start, end = period_for("monthly", NOW)
    assert (start, end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    report = generate_report(tenant, "monthly", now=NOW)
    f = report.figures
    assert f["usage"]["bytes_in"] == 30 * 4_000_000 and f["usage"]["bytes_out"] == 30 * 400_000
    assert f["usage"]["top_routers"][0]["router"] == "store-2"
    # 60 router-days, 3 offline: 95 %.
    assert f["uptime"]["percent"] == 95.0 and f["uptime"]["worst_routers"][0] == {"router": "store-2", "uptime_percent": 90.0}
    assert f["alerts"]["total"] == 3
    assert f["licences"]["within_30_days"] == 2 and f["licences"]["ending"][0]["devices"] == 2
    assert bytes(report.pdf).startswith(b"%PDF")

    report = send_report(report, ["noc@bakery.example", "owner@bakery.example"])
    assert report.status == "sent" and report.sent_at
    [message] = _messages(mailbox)
    assert message["To"] == "noc@bakery.example, owner@bakery.example"
    assert message["Subject"] == "Northwind MSP: Bakery Chain monthly report 2026-11-01 to 2026-11-30"
    assert message["From"].startswith("Northwind MSP <")
    parts = list(message.walk())
    body = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Uptime: 95.00 %" in body and "Data used: 132.0 MB" in body and "Alerts: 3" in body
    assert "Licences ending within 30 days: 2" in body
    pdf = next(p for p in parts if p.get_content_type() == "application/pdf")
    assert pdf.get_filename() == report.filename and pdf.get_payload(decode=True) == bytes(report.pdf)


def test_schedule_runs_once_per_period_and_history_download(mailbox, world, client_for):
    tenant = world.tenants[0]
    schedule = ReportSchedule.objects.create(tenant=tenant, frequency="weekly", recipients=["ops@example.com"],
                                             next_run_at=NOW - timedelta(hours=1))
    assert send_due_reports(now=NOW) == 1
    assert send_due_reports(now=NOW) == 0
    schedule.refresh_from_db()
    assert schedule.next_run_at == datetime(2026, 12, 7, tzinfo=UTC)  # next Monday
    report = Report.objects.get(tenant=tenant)
    assert (report.period_start, report.period_end) == (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    assert report.status == "sent" and len(_messages(mailbox)) == 1
    client = client_for(world.actor("read_only", "tenant", 0).user)
    rows = client.get("/api/v1/reports/").json()["results"]
    assert [r["id"] for r in rows] == [report.pk]
    response = client.get(rows[0]["download"])
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    other = client_for(world.actor("admin", "tenant", 3).user) if len(world.tenants) > 3 else None
    if other is not None:
        assert other.get(rows[0]["download"]).status_code == 404


def test_schedule_api_validates_recipients(world, client_for):
    tenant = world.tenants[0]
    client = client_for(world.actor("admin", "org", 0).user)
    response = client.post("/api/v1/report-schedules/", {"tenant": tenant.pk, "frequency": "monthly",
                                                          "recipients": ["not-an-address"]}, format="json")
    assert response.status_code == 400 and "recipients" in response.json()
    response = client.post("/api/v1/report-schedules/", {"tenant": tenant.pk, "frequency": "monthly",
                                                          "recipients": ["ops@example.com"]}, format="json")
    assert response.status_code == 201 and response.json()["next_run_at"]


def test_reports_page_lists_and_downloads(world, client):
    tenant, other = world.tenants[0], world.tenants[-1]
    mine = Report.objects.create(tenant=tenant, frequency="monthly", period_start=NOW - timedelta(days=30),
                                 period_end=NOW, figures={"uptime": {"percent": 99.5}}, pdf=b"%PDF-1.4 mine",
                                 status="sent", recipients=["ops@example.com"])
    theirs = Report.objects.create(tenant=other, frequency="monthly", period_start=NOW - timedelta(days=30),
                                   period_end=NOW, figures={}, pdf=b"%PDF-1.4 theirs")
    client.force_login(world.actor("read_only", "tenant", 0).user)
    page = client.get(f"/t/{tenant.pk}/reports/").content.decode()
    assert f"/t/{tenant.pk}/reports/{mine.pk}/download/" in page and "99.5" in page
    response = client.get(f"/t/{tenant.pk}/reports/{mine.pk}/download/")
    assert response.status_code == 200 and response.content == b"%PDF-1.4 mine"
    assert client.get(f"/t/{tenant.pk}/reports/{theirs.pk}/download/").status_code == 404
    assert client.get(f"/t/{other.pk}/reports/{theirs.pk}/download/").status_code == 404


def test_reports_page_schedules_by_role(world, client):
    from accounts.models import AuditEvent

    tenant = world.tenants[0]
    client.force_login(world.actor("full_access", "tenant", 0).user)
    response = client.post(f"/t/{tenant.pk}/reports/schedules/", {"frequency": "weekly", "recipients": "a@example.com, b@example.com"})
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get(tenant=tenant)
    assert schedule.recipients == ["a@example.com", "b@example.com"] and schedule.frequency == "weekly"
    assert AuditEvent.objects.filter(object_type="history.reportschedule", object_id=str(schedule.pk)).exists()
    client.post(f"/t/{tenant.pk}/reports/schedules/", {"frequency": "monthly", "recipients": "nope"})
    assert ReportSchedule.objects.filter(tenant=tenant).count() == 1
    # A read-only login sees the schedule but can neither add nor remove one.
    client.force_login(world.actor("read_only", "tenant", 0).user)
    page = client.get(f"/t/{tenant.pk}/reports/").content.decode()
    assert "a@example.com" in page and 'id="schedule-form"' not in page
    client.post(f"/t/{tenant.pk}/reports/schedules/{schedule.pk}/remove/")
    client.post(f"/t/{tenant.pk}/reports/schedules/", {"frequency": "monthly", "recipients": "x@example.com"})
    assert list(ReportSchedule.objects.filter(tenant=tenant)) == [schedule]
    # Another tenant's schedule: 404.
    foreign = ReportSchedule.objects.create(tenant=world.tenants[-1], frequency="monthly", recipients=["z@example.com"])
    client.force_login(world.actor("admin", "tenant", 0).user)
    assert client.post(f"/t/{tenant.pk}/reports/schedules/{foreign.pk}/remove/").status_code == 404
    assert client.post(f"/t/{tenant.pk}/reports/schedules/{schedule.pk}/remove/").status_code == 302
    assert not ReportSchedule.objects.filter(pk=schedule.pk).exists()
