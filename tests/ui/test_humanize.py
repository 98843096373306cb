"""Times and counts as people read them (issue 13 item 17)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.template import Context, Template

from ui.humanize import exact, noun_for, plural, relative, when

NOW = datetime(2026, 12, 4, 12, 54, 26, tzinfo=timezone.utc)


@pytest.mark.parametrize("delta, text", [
    (timedelta(seconds=0), "just now"), (timedelta(seconds=44), "just now"), (timedelta(seconds=50), "1 minute ago"),
    (timedelta(minutes=1, seconds=59), "1 minute ago"), (timedelta(minutes=2), "2 minutes ago"),
    (timedelta(hours=1), "1 hour ago"), (timedelta(hours=23, minutes=59), "23 hours ago"), (timedelta(days=1), "1 day ago"),
    (timedelta(days=8), "1 week ago"), (timedelta(days=400), "1 year ago"), (timedelta(minutes=-5), "in 5 minutes"),
])
def test_relative(delta, text):
    assert relative(NOW - delta, NOW) == text


def test_plurals():
    assert plural(1, "router") == "1 router" and plural(0, "router") == "0 routers" and plural(2, "run") == "2 runs"
    assert plural(3, "delivery") == "3 deliveries" and plural(1, "NCM call") == "1 NCM call"
    assert noun_for("routers", 1) == "router" and noun_for("routers", 2) == "routers" and noun_for("runs", "1") == "run"
    assert noun_for("deliveries", 1) == "delivery" and noun_for("tenants", 0) == "tenants"


def test_when_is_a_time_element_with_the_exact_time_on_hover():
    html = when(NOW - timedelta(minutes=3), now=NOW)
    assert html.startswith('<time datetime="2026-12-04T12:51:26Z"') and ">3 minutes ago</time>" in html
    assert 'title="Fri 4 Dec 2026, 12:51:26 UTC"' in html
    old = when(NOW - timedelta(days=3), now=NOW)
    assert ">1 Dec, 12:54</time>" in old and "(3 days ago)" in old
    assert "never" in when(None) and "T12:" not in str(when(None))
    assert exact(NOW) == "Fri 4 Dec 2026, 12:54:26 UTC"


def test_table_summary_and_template_filters_say_1_router():
    rendered = Template('{% load ui %}{{ noun|noun_for:n }} · {% plural k "run" %} · {{ t|ago }}').render(
        Context({"noun": "routers", "n": 1, "k": 1, "t": None}))
    assert rendered == "router · 1 run · never"
