"""What a mirrored row's columns hold for odd NCM values (the sync COPYs them in PostgreSQL's binary format, which
takes each column's own type and nothing else)."""
from __future__ import annotations

from datetime import datetime, timezone

from ncm_sync.models import Alert, Router


def test_timestamps_without_an_offset_are_taken_as_utc_and_unreadable_ones_as_absent():
    columns = Alert.columns({"created_at": "2026-03-01T10:00:00", "detected_at": "2026-03-01T11:00:00+02:00"})
    assert columns["ncm_created_at"] == datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
    assert columns["detected_at"] == datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    assert Alert.columns({"created_at": "yesterday", "detected_at": 1709287200})["ncm_created_at"] is None
    assert Router.columns({"state_updated_at": "2026-03-01 10:00:00"})["state_updated_at"].tzinfo is not None


def test_numbers_where_ncm_sends_text_and_text_where_it_sends_numbers():
    router = Router.columns({"name": 12345, "serial_number": 987, "state": None, "mac": "00:30:44:AA:BB:CC"})
    assert (router["name"], router["serial_number"], router["state"], router["mac"]) == ("12345", "987", "", "00:30:44:aa:bb:cc")
