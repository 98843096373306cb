"""The NCM client: paging to the end, retries with Retry-After, one-shot writes, typed errors, no secrets."""
from __future__ import annotations

import json
import time

import pytest
import requests
import responses

from ncm_sync.client import (
    NcmAmbiguousWriteError,
    NcmAuthError,
    NcmClient,
    NcmError,
    NcmNotFound,
    NcmRateLimited,
    NcmUnavailable,
    NcmValidationError,
)
from ncm_sync.ratebudget import RateBudget

BASE = "https://www.cradlepointecm.com/api/v2"
SECRETS = {name: f"tsecret-{name}-0123456789" for name in ("cp_api_id", "cp_api_key", "ecm_api_id", "ecm_api_key")}


@pytest.fixture
def client(db):
    c = NcmClient(BASE, SECRETS, rate_budget=RateBudget(key="test", limit=100000), backoff=0.001, max_retries=3)
    yield c
    c.close()


def page(rows, next_url=None):
    return {"data": rows, "meta": {"limit": 500, "next": next_url, "offset": 0, "previous": None}}


@responses.activate
def test_lists_every_page_with_limit_500_and_auth_headers(client):
    responses.get(f"{BASE}/routers/", json=page([{"id": "1"}], f"{BASE}/routers/?limit=500&offset=500"),
                  match=[responses.matchers.query_param_matcher({"limit": "500"})])
    responses.get(f"{BASE}/routers/", json=page([{"id": "2"}]),
                  match=[responses.matchers.query_param_matcher({"limit": "500", "offset": "500"})])
    assert client.list("routers") == [{"id": "1"}, {"id": "2"}]
    sent = responses.calls[0].request
    assert sent.headers["X-ECM-API-KEY"] == SECRETS["ecm_api_key"] and sent.headers["X-CP-API-ID"] == SECRETS["cp_api_id"]
    assert client.calls == 2


@responses.activate
def test_a_page_failing_after_its_retries_fails_the_whole_listing(client):
    responses.get(f"{BASE}/routers/", json=page([{"id": "1"}], f"{BASE}/routers/?limit=500&offset=500"),
                  match=[responses.matchers.query_param_matcher({"limit": "500"})])
    responses.get(f"{BASE}/routers/", status=500, json={"message": "cp internal error shard-router-3"},
                  match=[responses.matchers.query_param_matcher({"limit": "500", "offset": "500"})])
    with pytest.raises(NcmUnavailable) as info:
        client.list("routers")
    assert "shard-router-3" in str(info.value)
    assert client.calls == 1 + 4  # page 1, then page 2 with 3 retries


@responses.activate
def test_429_is_retried_honouring_retry_after(client, monkeypatch):
    sleeps = []
    monkeypatch.setattr(time, "sleep", lambda s: sleeps.append(s))
    responses.get(f"{BASE}/groups/", status=429, headers={"Retry-After": "7"}, json={"message": "throttled"})
    responses.get(f"{BASE}/groups/", json=page([{"id": "9"}]))
    assert client.list("groups") == [{"id": "9"}]
    assert 7 in sleeps
    assert client.retries == 1


@responses.activate
def test_429_for_ever_raises_rate_limited(client):
    responses.get(f"{BASE}/groups/", status=429, json={"message": "throttled"})
    with pytest.raises(NcmRateLimited):
        client.list("groups")
    assert client.calls == 4


@responses.activate
def test_timeouts_and_resets_are_retried_for_reads(client):
    responses.get(f"{BASE}/accounts/", body=requests.ConnectTimeout("slow"))
    responses.get(f"{BASE}/accounts/", body=requests.ConnectionError("reset"))
    responses.get(f"{BASE}/accounts/", json=page([{"id": "1"}]))
    assert client.list("accounts") == [{"id": "1"}]


def test_every_request_has_connect_and_read_timeouts(db, settings):
    settings.NCM_CONNECT_TIMEOUT, settings.NCM_READ_TIMEOUT = 3.0, 11.0
    seen = []

    class Session(requests.Session):
        def get(self, url, **kwargs):
            seen.append(kwargs["timeout"])
            response = requests.Response()
            response.status_code, response._content = 200, json.dumps(page([])).encode()
            return response

    client = NcmClient(BASE, SECRETS, rate_budget=RateBudget(key="t", limit=1000), session=Session())
    client.list("routers")
    assert seen == [(3.0, 11.0)]


@responses.activate
def test_in_filters_are_sent_in_chunks_of_100(client):
    responses.get(f"{BASE}/net_devices/", json=page([]))
    client.list("net_devices", id__in=list(range(250)))
    chunks = [call.request.params["id__in"].split(",") for call in responses.calls]
    assert [len(c) for c in chunks] == [100, 100, 50]


@responses.activate
def test_writes_are_sent_once_and_an_unknown_outcome_is_ambiguous(client):
    responses.post(f"{BASE}/reboot_activity/", status=502, body="<html>Bad Gateway</html>")
    with pytest.raises(NcmAmbiguousWriteError):
        client.post("reboot_activity", {"router": f"{BASE}/routers/1/"})
    responses.patch(f"{BASE}/configuration_managers/5/", body=requests.ReadTimeout("no answer"))
    with pytest.raises(NcmAmbiguousWriteError):
        client.patch("configuration_managers", 5, {"configuration": [{}, []]})
    assert len(responses.calls) == 2  # never retried


@responses.activate
def test_write_that_never_connected_is_unavailable_not_ambiguous(client):
    responses.post(f"{BASE}/speed_test/", body=requests.ConnectTimeout("refused"))
    with pytest.raises(NcmUnavailable):
        client.post("speed_test", {})


@responses.activate
def test_typed_errors_carry_ncms_message_and_never_the_keys(client):
    responses.get(f"{BASE}/routers/", status=401, json={"message": "invalid X-ECM-API-KEY tsecret-ecm_api_key-0123456789"})
    with pytest.raises(NcmAuthError) as info:
        client.list("routers")
    assert client.calls == 1  # a rejected key is not retried
    assert "tsecret" not in str(info.value) and "[redacted]" in str(info.value)
    responses.get(f"{BASE}/routers/77/", status=404, json={"message": "Not found"})
    with pytest.raises(NcmNotFound):
        client.get("routers", 77)
    responses.put(f"{BASE}/groups/3/", status=400, json={"message": "Invalid firmware for product"})
    with pytest.raises(NcmValidationError) as invalid:
        client.put("groups", 3, {"name": "x"})
    assert invalid.value.message == "Invalid firmware for product"
    assert "tsecret" not in repr(client)


@responses.activate
def test_next_link_to_another_host_is_refused(client):
    responses.get(f"{BASE}/routers/", json=page([{"id": "1"}], "https://evil.example/api/v2/routers/?offset=500"))
    with pytest.raises(NcmError, match="another host"):
        client.list("routers")
    assert len(responses.calls) == 1


@responses.activate
def test_regional_ncm_shard_next_links_are_followed(client):
    shard = "https://www.us0.cradlepointecm.com/api/v2/routers/?limit=500&offset=500"
    responses.get(f"{BASE}/routers/", json=page([{"id": "1"}], shard))
    responses.get(shard, json=page([{"id": "2"}]))
    assert [r["id"] for r in client.list("routers")] == ["1", "2"]


def test_incomplete_credential_is_refused(db):
    with pytest.raises(NcmAuthError):
        NcmClient(BASE, {**SECRETS, "ecm_api_key": ""})


def test_each_client_has_its_own_session(db):
    a, b = NcmClient(BASE, SECRETS), NcmClient(BASE, {**SECRETS, "cp_api_id": "tsecret-other-0123456789"})
    assert a.session is not b.session
    assert a.session.headers["X-CP-API-ID"] != b.session.headers["X-CP-API-ID"]
