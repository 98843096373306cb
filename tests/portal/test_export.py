"""CSV export of the lists MSPs export (routers, net devices, alerts, job items) and ETag / If-None-Match."""
from __future__ import annotations

import csv
import io

import pytest
from django.db import transaction

from ncm_sync.models import Alert, NetDevice, Router
from portal.api import export
from tests.fleet import mirrored

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict]:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_routers_csv_is_the_whole_filtered_scoped_list(world, client_for):
    t0, t1, foreign = world.tenants[0], world.tenants[1], world.tenants[2]
    online = [mirrored(Router, name=f"r{i}", state="online")(t0) for i in range(3)]
    mirrored(Router, name="down", state="offline")(t0)
    mirrored(Router, name="other", state="online")(t1)
    mirrored(Router, name="foreign", state="online")(foreign)
    client = client_for(world.actor("read_only", "org", 0).user)
    rows = _csv(client.get("/api/v1/routers/", {"format": "csv", "tenant": t0.pk, "state": "online", "limit": 1}))
    assert [int(r["id"]) for r in rows] == [r.pk for r in online]  # not paginated: limit is ignored
    assert rows[0]["name"] == "r0" and rows[0]["tenant"] == str(t0.pk) and rows[0]["state"] == "online"
    assert list(rows[0])[:4] == ["id", "tenant", "ncm_id", "name"]
    everything = _csv(client.get("/api/v1/routers/?format=csv"))
    assert {r["name"] for r in everything} == {"r0", "r1", "r2", "down", "other"}  # never another MSP's
    # Accept: text/csv works too.
    assert len(_csv(client.get("/api/v1/routers/", HTTP_ACCEPT="text/csv"))) == 5


def test_csv_defuses_formulas_and_flattens_nested_values(world, client_for):
    tenant = world.tenants[0]
    mirrored(Router, name="=HYPERLINK(\"http://evil\")")(tenant)
    alert = mirrored(Alert, type="custom_alert", friendly_info="+cmd|' /C calc'!A0")(tenant)
    alert.data = {**alert.data, "info": {"a": [1, 2]}}
    alert.save()
    client = client_for(world.actor("admin", "org", 0).user)
    (router,) = _csv(client.get("/api/v1/routers/?format=csv"))
    assert router["name"].startswith("'=")
    (row,) = _csv(client.get("/api/v1/alerts/?format=csv"))
    assert row["friendly_info"].startswith("'+") and row["info"] == '{"a":[1,2]}' and row["acknowledged"] == "false"


def test_csv_streams_in_chunks(world, client_for, monkeypatch):
    from django.db.models.query import QuerySet

    tenant = world.tenants[0]
    make = mirrored(NetDevice, name="mdm")
    for _ in range(7):
        make(tenant)
    monkeypatch.setattr(export, "CSV_CHUNK_SIZE", 3)
    chunk_sizes, fetched = [], []
    original_iterator = QuerySet.iterator

    def iterator(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        for obj in original_iterator(self, chunk_size=chunk_size):
            fetched.append(obj.pk)
            yield obj

    monkeypatch.setattr(QuerySet, "iterator", iterator)
    client = client_for(world.actor("admin", "org", 0).user)
    response = client.get("/api/v1/net-devices/?format=csv")
    # Only the first row is read in the view (so a database refusal is still a JSON error), the rest as the
    # body is consumed.
    assert response.streaming and len(fetched) == 1
    body = iter(response.streaming_content)
    next(body), next(body), next(body)  # BOM, header row, first row
    rest = list(body)
    assert len(rest) == 6 and len(fetched) == 7 and chunk_sizes == [3]


def test_csv_errors_stay_json(world, client_for):
    client = client_for(world.actor("admin", "org", 0).user)
    response = client.get("/api/v1/alerts/", {"format": "csv", "created_after": "not a date"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json") and "created_after" in response.json()
    # Only lists export; a detail asked as CSV is not found (no such format there).
    alert = mirrored(Alert, type="x")(world.tenants[0])
    assert client.get(f"/api/v1/alerts/{alert.pk}/?format=csv").status_code == 404


def test_job_items_csv(world, client_for):
    from jobs.models import JobItem

    client = client_for(world.actor("admin", "org", 0).user)
    rows = _csv(client.get("/api/v1/job-items/?format=csv"))
    assert rows == []
    assert JobItem.objects.count() == 0


def test_etag_and_if_none_match(world, client_for):
    tenant = world.tenants[0]
    router = mirrored(Router, name="r1")(tenant)
    client = client_for(world.actor("admin", "org", 0).user)
    first = client.get("/api/v1/routers/")
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and "private" in first["Cache-Control"]
    cached = client.get("/api/v1/routers/", HTTP_IF_NONE_MATCH=etag)
    assert cached.status_code == 304 and cached.content == b""
    detail = client.get(f"/api/v1/routers/{router.pk}/")
    assert client.get(f"/api/v1/routers/{router.pk}/", HTTP_IF_NONE_MATCH=detail["ETag"]).status_code == 304
    # A change gives a new ETag and a full answer.
    Router.objects.filter(pk=router.pk).update(name="renamed")
    changed = client.get("/api/v1/routers/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    # Another user's view of the same URL is its own body (and ETag).
    customer = client_for(world.actor("read_only", "tenant", 1).user).get("/api/v1/routers/")
    assert customer["ETag"] != changed["ETag"]


#
# Regressions found by schemathesis (tests/test_schemathesis.py): these were 500s.
#
def test_datetime_filter_with_an_offset_postgresql_refuses_is_400(world, client_for):
    client = client_for(world.actor("admin", "org", 0).user)
    for url in ("/api/v1/alerts/", "/api/v1/audit-events/", "/api/v1/routers/"):
        param = {"/api/v1/alerts/": "created_after", "/api/v1/audit-events/": "created_after",
                 "/api/v1/routers/": "seen_after"}[url]
        with transaction.atomic():  # production runs in autocommit: the failed statement is alone
            response = client.get(url, {param: "0634-10-02T10:38:11+20:37"})
            transaction.set_rollback(True)
        assert response.status_code == 400, (url, response.content[:200])
        assert "detail" in response.json()
    # The CSV export runs its query before streaming, so the refusal is a JSON 400 there too.
    with transaction.atomic():
        response = client.get("/api/v1/alerts/", {"format": "csv", "created_after": "0634-10-02T10:38:11+20:37"})
        transaction.set_rollback(True)
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")


def test_too_many_form_fields_is_400_not_500(world, client_for, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    client = client_for(world.actor("admin", "org", 0).user)
    response = client.post("/api/v1/jobs/", {f"f{i}": "x" for i in range(10)}, format="multipart")
    assert response.status_code == 400
    assert "TooManyFieldsSent" in response.json()["detail"]


def test_group_representation_matches_its_schema(world, client_for):
    from ncm_sync.models import Group

    group = mirrored(Group, name="g", product="IBR900-600M", firmware="7.24.10")(world.tenants[0])
    group.data = {**group.data, "product": "https://www.cradlepointecm.com/api/v2/products/46/"}
    group.save()
    row = client_for(world.actor("admin", "org", 0).user).get(f"/api/v1/groups/{group.pk}/").json()
    assert row["product_name"] == "IBR900-600M" and row["firmware_version"] == "7.24.10"
    assert row["product"].endswith("/products/46/")
