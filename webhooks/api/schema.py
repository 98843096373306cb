"""OpenAPI: the NCM alert push receiver (`/hooks/ncm/{token}/`), which is not a DRF view, documented by hand."""
from __future__ import annotations

from portal.api.schema import detail_response as _detail
from webhooks.alert_push import MAX_BODY_BYTES

ALERT_PUSH_PATH = {
    "post": {
        "operationId": "ncm_alert_push_receive",
        "summary": "Receive an NCM alert push (called by NCM, not by portal users)",
        "description": (
            "The URL comes from `POST /api/v1/tenants/{id}/alert-push/`; set it as an NCM alert push "
            "destination with the secret given there. NCM signs each push: `x-cp-signature` is the hex "
            "HMAC-SHA256 of the raw body under the secret (compared in constant time). A valid push answers 202 "
            "at once and the alert is stored by a background task (one row per NCM alert, shared with the "
            "sync). A delivery already accepted in the last 24 h, or an alert older than 24 h, answers 200 "
            "and is not processed again."
        ),
        "tags": ["ncm-alert-push"],
        "security": [],
        "parameters": [
            {"in": "path", "name": "token", "required": True, "schema": {"type": "string"},
             "description": "The receiver's unguessable token."},
            {"in": "header", "name": "x-cp-signature", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
             "description": "Hex HMAC-SHA256 of the raw body under the receiver's secret."},
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [
                {"$ref": "#/components/schemas/NcmPushedAlert"},
                {"type": "array", "items": {"$ref": "#/components/schemas/NcmPushedAlert"}, "minItems": 1,
                 "maxItems": 500},
            ],
        }}}, "description": f"One NCM alert or a list of them; at most {MAX_BODY_BYTES} bytes."},
        "responses": {
            "202": {"description": "Accepted; stored within seconds.", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/NcmPushOutcome"}}}},
            "200": {"description": "Valid but not processed: `duplicate` (replayed) or `stale` (too old).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NcmPushOutcome"}}}},
            "400": _detail("Signed, but not an alert object or list (not JSON)."),
            "401": _detail("Missing or invalid x-cp-signature; nothing stored."),
            "404": _detail("No receiver has this token (never created, or rotated since)."),
            "405": _detail("Only POST."),
            "413": _detail(f"Body larger than {MAX_BODY_BYTES} bytes, or more than 500 alerts."),
            "503": _detail("Temporarily unable to queue the alert; NCM retries."),
        },
    }
}

SCHEMAS = {
    "NcmPushedAlert": {
        "type": "object",
        "description": "An alert as NCM pushes it (its /api/v2/alerts/ fields; others are kept as sent).",
        "properties": {
            "id": {"type": "string"}, "type": {"type": "string", "example": "connection_state"},
            "created_at": {"type": "string", "format": "date-time"},
            "created_at_timeuuid": {"type": "string"},
            "detected_at": {"type": "string", "format": "date-time"},
            "friendly_info": {"type": "string"}, "info": {"type": "object"},
            "router": {"oneOf": [{"type": "string"}, {"type": "object"}], "description": "URL or object"},
            "account": {"oneOf": [{"type": "string"}, {"type": "object"}], "description": "URL or object"},
        },
        "additionalProperties": True,
    },
    "NcmPushOutcome": {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["accepted", "duplicate", "stale"]},
                       "alerts": {"type": "integer", "description": "Alerts queued for storage."}},
        "required": ["status", "alerts"],
    },
}


def document_alert_push(result, generator, request, public):
    result.setdefault("paths", {})["/hooks/ncm/{token}/"] = ALERT_PUSH_PATH
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    return result
