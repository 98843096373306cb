"""Log filter that scrubs credential material from every record before any handler formats it."""
from __future__ import annotations

import logging
import re

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# Header names and JSON keys that carry NCM or portal secrets.
_SECRET_NAMES = r"(x-cp-api-id|x-cp-api-key|x-ecm-api-id|x-ecm-api-key|cp_api_key|ecm_api_key|cp_api_id|ecm_api_id|api_token|authorization|password|secret)"
_SECRET_PATTERN = re.compile(
    rf"(?i)(['\"]?{_SECRET_NAMES}['\"]?\s*[:=]\s*)(['\"]?)([^'\",\s}}]+)"
)
_TOKEN_PATTERN = re.compile(r"\b(ncmp_[A-Za-z0-9]{8})[A-Za-z0-9]+")
# The NCM alert push receiver's URL carries its token in the path (/hooks/ncm/<token>/): access logs too.
_PUSH_URL_PATTERN = re.compile(r"(/hooks/ncm/)[^/\s?\"']+")


def redact(text: str) -> str:
    text = _SECRET_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(3)}[redacted]", text)
    text = _PUSH_URL_PATTERN.sub(r"\1[redacted]", text)
    return _TOKEN_PATTERN.sub(r"\1…[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites the formatted message so secrets never reach a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(_JsonFormatter):
    """LOG_FORMAT=json (python-json-logger): every string value redacted like messages (a traceback, an extra),
    and no raw `request` object (django.request passes one; its repr holds the URL, which may hold a token)."""

    def process_log_record(self, log_data):
        log_data.pop("request", None)
        return {key: redact(value) if isinstance(value, str) else value for key, value in log_data.items()}
