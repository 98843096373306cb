"""Job outcomes as people read them: one line per item (Mbps down/up, latency, NCM's message, how a reboot was
confirmed) and one line per job ("2 of 2 succeeded"). Used by the job page, the API (`summary`) and the job log."""
from __future__ import annotations

from typing import Any

__all__ = ["counts_summary", "item_summary", "speed_figures"]

# Item statuses other than succeeded, in the order a summary names them.
_OTHER_STATUSES = (("failed", "failed"), ("unknown", "unknown outcome"), ("skipped", "skipped"),
                   ("cancelled", "cancelled"), ("dispatched", "in progress"), ("pending", "pending"))


def counts_summary(counts: dict | None) -> str:
    """`{"succeeded": 2, "total": 2}` -> "2 of 2 succeeded"; others follow: "1 of 3 succeeded, 1 failed, 1 skipped"."""
    counts = counts or {}
    total = counts.get("total", sum(v for k, v in counts.items() if k != "total"))
    parts = [f"{counts.get('succeeded', 0)} of {total} succeeded"]
    parts += [f"{counts[status]} {label}" for status, label in _OTHER_STATUSES if counts.get(status)]
    return ", ".join(parts)


def _number(value: Any, digits: int = 1) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "?"


def speed_figures(figures: dict) -> str:
    """"58.3 Mbps down · 12.0 Mbps up · latency 35 ms" (only the figures NCM reported)."""
    parts = []
    if figures.get("download_mbps") is not None:
        parts.append(f"{_number(figures['download_mbps'])} Mbps down")
    if figures.get("upload_mbps") is not None:
        parts.append(f"{_number(figures['upload_mbps'])} Mbps up")
    if figures.get("latency_ms") is not None:
        parts.append(f"latency {_number(figures['latency_ms'], 0)} ms")
    return " · ".join(parts)


def _speed_test(result: dict) -> str:
    lines = []
    modems = result.get("modems") or []
    for modem in modems:
        figures = speed_figures(modem)
        message = str(modem.get("message") or "").strip()
        if modem.get("state") == "success":
            lines.append(figures or message or "NCM reported success without figures")
        else:
            lines.append(f"NCM: {message}" if message else f"NCM reported {modem.get('state') or 'no result'}")
    prefix = len(modems) > 1
    return "; ".join(f"modem {i}: {line}" if prefix else line for i, line in enumerate(lines, 1))


def _reboot(result: dict, status: str) -> str:
    if result.get("confirmed_by"):
        how = "NCM reported the reboot" if "alert" in result["confirmed_by"] else "the router's uptime restarted"
        message = str(result.get("message") or "").strip()
        return f"Rebooted: {how}" + (f" (“{message}”)" if message and "alert" in result["confirmed_by"] else "") + "."
    if status == "dispatched" and result.get("reboot_activity") is not None:
        request = (result.get("reboot_activity") or {}).get("id")
        return ("NCM accepted the reboot" + (f" (request {request})" if request else "")
                + "; waiting for the router to report back.")
    if result.get("router_state"):
        return f"The router was {result['router_state']} in NCM."
    return ""


def item_summary(kind: str, status: str, result: Any, error: str = "") -> str:
    """One readable line for a job item; the error (NCM's own words) when it has one."""
    if error:
        return error
    if not isinstance(result, dict) or not result:
        return ""
    if "requeues" in result and len(result) <= 2:
        return f"Waiting to send: NCM asked to slow down or was unreachable ({result['requeues']}×): {result.get('last', '')}".rstrip(": ")
    if kind == "speed_test":
        return _speed_test(result)
    if kind == "reboot":
        return _reboot(result, status)
    if kind == "config_push" and "post" in result:  # another vendor's device (ecCloud: jobs.devices)
        keys = len(result.get("post") or {})
        stored = (f"ecCloud stored {keys} key{'s' if keys != 1 else ''}" if result.get("written", True)
                  else "ecCloud already had these values (nothing sent)")
        them = "it" if keys == 1 else "them"
        if result.get("applied") is False:
            return stored + f"; the device has not applied {them} yet."
        return stored + (f"; the device applied {them}." if result.get("applied") else ".")
    if kind == "config_push":
        version = result.get("version_number")
        return "NCM accepted the configuration" + (f" (version {version})." if version is not None else ".")
    return ""
