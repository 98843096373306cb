"""Regression: the alert type filter accepted only the types of the first request once a schema was built."""
import pytest
from django.utils import timezone

from ncm_sync.models import Alert

pytestmark = pytest.mark.django_db


def test_type_filter_accepts_any_type_after_schema_generation(world, client_for):
    now = timezone.now()
    alert = Alert.objects.create(tenant=world.tenants[0], ncm_id="a1", data={}, content_hash="x", first_seen_at=now,
                                 last_seen_at=now, type="connection_state")
    client = client_for(world.actor("admin", "org", 0).user)
    assert client.get("/api/schema/?format=json").status_code == 200  # builds every filter's form field once
    for query in ("type=connection_state", "type=connection_state&type=ipsec_tunnel_down", "type=never_seen"):
        response = client.get(f"/api/v1/alerts/?{query}")
        assert response.status_code == 200, response.content
        assert ({row["id"] for row in response.json()["results"]} == {alert.pk}) is ("connection_state" in query)
