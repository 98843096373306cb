"""A fast JSON codec (orjson) where the portal moves a lot of JSON: NCM pages, mirrored rows, API lists.

- `loads(bytes | str)`, `dumps(obj) -> bytes` (compact, UTF-8, keys in insertion order; values orjson does not
  know, e.g. Decimal or lazy strings, go through `str`).
- `JSONField`: Django's JSONField decoding stored values with orjson (the column and the migrations are
  Django's own: `deconstruct` names django.db.models.JSONField, so swapping it needs no migration).
"""
from __future__ import annotations

import json
from typing import Any

import orjson
from django.db import models

__all__ = ["JSONField", "dumps", "loads", "JSONDecodeError"]

JSONDecodeError = orjson.JSONDecodeError
_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value):
    return str(value)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=_OPTIONS)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(data)


class JSONField(models.JSONField):
    """Django's JSONField, read with orjson (several times faster for the wide NCM objects of a list page)."""

    def from_db_value(self, value, expression, connection):
        if value is None or self.decoder is not None or not isinstance(value, str):
            return super().from_db_value(value, expression, connection)
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return super().from_db_value(value, expression, connection)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


def compat_dumps(obj: Any) -> str:
    """`json.dumps` with the standard library's output, for callers that need a str."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)
