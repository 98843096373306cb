"""Which optional parts of the portal are present (the jobs app lands after the mirror)."""
from __future__ import annotations

from functools import lru_cache

from django.apps import apps
from django.urls import NoReverseMatch, reverse


@lru_cache(maxsize=1)
def jobs_enabled() -> bool:
    if not apps.is_installed("jobs"):
        return False
    try:
        reverse("ui:jobs", args=[1])
    except NoReverseMatch:
        return False
    return True
