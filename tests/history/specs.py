"""Isolation-test specs for the history endpoints (read-only)."""
from __future__ import annotations

from django.utils import timezone

from history.models import LocationSample, Rollup, RouterLog, SignalSample, StateSample, UsageSample
from ncm_sync.models import NetDevice, Router
from tests.api_specs import Spec, register
from tests.fleet import mirror_row

_n = iter(range(10**9))


def _uuid():
    return f"00000000-0000-1000-8000-{next(_n):012d}"


def _router(tenant):
    return mirror_row(Router, tenant, name="rtr", state="online")


def _modem(tenant):
    return mirror_row(NetDevice, tenant, name="mdm", mode="wan", type="mdm", router=_router(tenant))


def _sample(model, device_field, make_device, **values):
    def make(tenant):
        return model.objects.create(tenant=tenant, created_at=timezone.now(), created_at_timeuuid=_uuid(),
                                    **{device_field: make_device(tenant)}, **values)
    return make


def _rollup(tenant):
    modem = _modem(tenant)
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return Rollup.objects.create(tenant=tenant, kind="usage", period="day", bucket=day, device_id=modem.pk,
                                 net_device=modem, router=modem.router, samples=1, bytes_in=10, bytes_out=5)


register("history.SignalSample", Spec(make=_sample(SignalSample, "net_device", _modem, rsrp=-90.0, sinr=5.0)))
register("history.UsageSample", Spec(make=_sample(UsageSample, "net_device", _modem, bytes_in=100, bytes_out=50)))
register("history.StateSample", Spec(make=_sample(StateSample, "router", _router, state="online", period=3600.0)))
register("history.LocationSample", Spec(make=_sample(LocationSample, "router", _router, latitude=1.0, longitude=2.0)))
register("history.RouterLog", Spec(make=_sample(RouterLog, "router", _router, level="INFO", message="hello")))
register("history.Rollup", Spec(make=_rollup))


def _licence(tenant):
    from history.models import Licence, Subscription

    sub = Subscription.objects.create(tenant=tenant, ncm_id=f"sub-{next(_n)}", name="NCE", type="NCE",
                                      end_time=timezone.now() + timezone.timedelta(days=20), last_seen_at=timezone.now())
    return Licence.objects.create(tenant=tenant, ncm_id=f"ae-{next(_n)}", subscription=sub, subscription_ncm_id=sub.ncm_id,
                                  end_time=sub.end_time, router=_router(tenant), last_seen_at=timezone.now())


register("history.Licence", Spec(make=_licence))


def _schedule(tenant):
    from history.models import ReportSchedule

    return ReportSchedule.objects.create(tenant=tenant, frequency="monthly", recipients=["ops@example.com"])


def _report(tenant):
    from history.models import Report

    now = timezone.now()
    return Report.objects.create(tenant=tenant, frequency="monthly", period_start=now - timezone.timedelta(days=30),
                                 period_end=now, figures={}, pdf=b"%PDF-1.4 test")


register("history.ReportSchedule", Spec(
    make=_schedule,
    create_payload=lambda t: {"tenant": t.pk, "frequency": "weekly", "recipients": ["noc@example.com"]},
    update_payload=lambda: {"recipients": ["other@example.com"]},
))
register("history.Report", Spec(make=_report))
