"""OpenAPI post-processing (drf-spectacular POSTPROCESSING_HOOKS).

- `time` fields: DRF writes `02:00:00` (no offset), which is not an RFC 3339 `full-time`; they are documented
  as a pattern instead, so the schema describes exactly what is sent and accepted.
- The NCM alert push receiver (`/hooks/ncm/{token}/`, a plain Django view outside /api/v1 that NCM calls
  without a portal token) is documented with its signature header and every answer.
"""
from __future__ import annotations

from webhooks.alert_push import MAX_BODY_BYTES

__all__ = ["postprocess"]

TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


def _fix_time_formats(node) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node.pop("format")
            node["pattern"] = TIME_PATTERN
            node.setdefault("example", "02:00:00")
        for value in node.values():
            _fix_time_formats(value)
    elif isinstance(node, list):
        for value in node:
            _fix_time_formats(value)


def _detail(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"],
    }}}}


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


VALIDATION_ERROR = {
    "description": "Bad input: each field named with what is wrong (or `detail` for malformed JSON).",
    "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {"type": "object"}]}},
        "example": {"routers": ["Unknown router ids for this tenant: [4711]"], "limit": ["At most 1000 rows per page."]},
    }},
}
COMMON_ERRORS = {
    "401": _detail("No, invalid, expired or revoked credentials (`Authorization: Token <token>`)."),
    "403": _detail("Your role does not allow this action here."),
    "429": _detail("Too many requests for this token, or too many failed sign-ins; retry later."),
}


def _document_errors(result) -> None:
    """Every /api/v1 operation documents the JSON errors it can answer (never a stack trace)."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, response in COMMON_ERRORS.items():
                responses.setdefault(code, response)
            if "{" in path:
                responses.setdefault("404", _detail("Not found, or outside what you may see (the same answer)."))
            responses.setdefault("400", VALIDATION_ERROR)


def postprocess(result, generator, request, public):
    _fix_time_formats(result)
    _document_errors(result)
    result.setdefault("paths", {})["/hooks/ncm/{token}/"] = ALERT_PUSH_PATH
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    return result
