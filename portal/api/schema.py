"""OpenAPI post-processing (drf-spectacular POSTPROCESSING_HOOKS).

- `time` fields: DRF writes `02:00:00` (no offset), which is not an RFC 3339 `full-time`; they are documented
  as a pattern instead, so the schema describes exactly what is sent and accepted.
- The NCM alert push receiver (`/hooks/ncm/{token}/`, a plain Django view outside /api/v1 that NCM calls
  without a portal token) is documented with its signature header and every answer.
"""
from __future__ import annotations


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


def detail_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"],
    }}}}


VALIDATION_ERROR = {
    "description": "Bad input: each field named with what is wrong (or `detail` for malformed JSON).",
    "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {"type": "object"}]}},
        "example": {"routers": ["Unknown router ids for this tenant: [4711]"], "limit": ["At most 1000 rows per page."]},
    }},
}
COMMON_ERRORS = {
    "401": detail_response("No, invalid, expired or revoked credentials (`Authorization: Token <token>`)."),
    "403": detail_response("Your role does not allow this action here."),
    "429": detail_response("Too many requests for this token, or too many failed sign-ins; retry later."),
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
                responses.setdefault("404", detail_response("Not found, or outside what you may see (the same answer)."))
            responses.setdefault("400", VALIDATION_ERROR)


def postprocess(result, generator, request, public):
    _fix_time_formats(result)
    _document_errors(result)
    return result
