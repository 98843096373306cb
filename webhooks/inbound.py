"""The public endpoint NCM alert push destinations post to: `/hooks/ncm/<token>/`.

Outside /api/v1 (NCM holds no portal token): no session, no CSRF, no DRF. It verifies and triages the
delivery and enqueues the storage, answering within milliseconds (rules in `webhooks.alert_push`).
"""
from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.tasks import enqueue
from webhooks import alert_push

logger = logging.getLogger(__name__)


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _read_body(request) -> bytes | None:
    """The raw body, or None when it is larger than the cap (read no further than the cap + 1 byte)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > alert_push.MAX_BODY_BYTES:
        return None
    body = request.read(alert_push.MAX_BODY_BYTES + 1)
    return None if len(body) > alert_push.MAX_BODY_BYTES else body


@csrf_exempt
@require_POST
def ncm_alert_push(request, token: str):
    receiver = alert_push.receiver_for_token(token)
    if receiver is None:
        return _error(404, "Not found.")
    body = _read_body(request)
    if body is None:
        return _error(413, f"The body is larger than {alert_push.MAX_BODY_BYTES} bytes.")
    try:
        outcome, alerts = alert_push.accept_push(
            receiver=receiver, body=body, signature=request.headers.get(alert_push.SIGNATURE_HEADER)
        )
    except alert_push.PushError as exc:
        if exc.status == 401:
            logger.warning("NCM alert push to tenant %s refused: bad or missing signature", receiver.tenant_id)
        return _error(exc.status, exc.detail)
    if outcome != alert_push.PushOutcome.ACCEPTED:
        return JsonResponse({"status": outcome, "alerts": 0}, status=200)
    try:
        enqueue("webhooks.tasks.store_pushed_alerts_task", receiver.tenant_id, alerts, queue="interactive")
    except Exception:  # noqa: BLE001 - the broker is down: let NCM retry rather than lose the alert
        logger.exception("NCM alert push to tenant %s could not be queued", receiver.tenant_id)
        alert_push.forget_push(receiver=receiver, body=body, alerts=alerts)
        return _error(503, "Temporarily unable to accept alerts; retry later.")
    return JsonResponse({"status": outcome, "alerts": len(alerts)}, status=202)
