"""Times and counts as people read them: "3 minutes ago", "just now", "1 router", never a raw ISO timestamp.

`when(dt)` renders `<time datetime="…" title="exact time" data-when="…">relative</time>`; static/ui/portal.js turns
the title (and older dates) into the viewer's local time and keeps the relative text current. CSV exports keep
ISO 8601 (machines read those).
"""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

__all__ = ["relative", "exact", "when", "noun_for", "plural"]

_UNITS = (
    (365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"), (3600, "hour"), (60, "minute"),
)
RECENT_SECONDS = 86400  # younger than this: relative text; older: a local date (relative on hover)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """"1 router", "2 routers", "0 routers"."""
    word = singular if count == 1 else (plural_form or _pluralize(singular))
    return f"{count} {word}"


def _pluralize(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def noun_for(noun: str, count) -> str:
    """A plural noun ("routers", "deliveries") made singular when count is 1."""
    try:
        one = int(count) == 1
    except (TypeError, ValueError):
        return noun
    if not one:
        return noun
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("ches", "shes", "xes", "sses")):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def relative(value: datetime | None, now: datetime | None = None, *, never: str = "never") -> str:
    """"just now", "1 minute ago", "3 hours ago", "in 5 minutes": the largest whole unit, plural only above one."""
    if value is None:
        return never
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    text = "1 minute"
    for size, unit in _UNITS:
        if seconds >= size:
            text = plural(int(seconds // size), unit)
            break
    return f"in {text}" if future else f"{text} ago"


def exact(value: datetime, tz=None) -> str:
    """"Fri 4 Dec 2026, 12:54:26 UTC" in `tz` (default: the active time zone)."""
    local = timezone.localtime(value, tz) if timezone.is_aware(value) else value
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M:%S} {local.tzname() or ''}".strip()


def _short(value: datetime, now: datetime, tz=None) -> str:
    local = timezone.localtime(value, tz)
    if local.year != timezone.localtime(now, tz).year:
        return f"{local.day} {local:%b %Y, %H:%M}"
    return f"{local.day} {local:%b, %H:%M}"


def when(value: datetime | None, *, mode: str = "auto", never: str = "never", tz=None, now=None) -> SafeString:
    """HTML for a moment: relative when recent (or always, mode="relative"), else a short local date; the exact
    time on hover. None renders `never` (muted)."""
    if value is None:
        return format_html('<span class="muted">{}</span>', never)
    now = now or timezone.now()
    rel = relative(value, now)
    if mode == "relative" or abs((now - value).total_seconds()) < RECENT_SECONDS:
        text, title = rel, exact(value, tz)
    else:
        text, title = _short(value, now, tz), f"{exact(value, tz)} ({rel})"
    return format_html('<time datetime="{}" title="{}" data-when="{}">{}</time>',
                       value.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z"), title, mode, text)
