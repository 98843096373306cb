"""The API's JSON renderer: DRF's, encoding with orjson (a 1,000-row list of wide NCM objects is encoded several
times faster). Same output as DRF's compact, UTF-8 JSON: DRF's encoder handles what orjson does not know
(Decimal, lazy strings, querysets...), and U+2028/U+2029 are escaped as DRF does."""
from __future__ import annotations

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

__all__ = ["FastJSONRenderer"]

_ENCODER = JSONEncoder()


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        renderer_context = renderer_context or {}
        if self.get_indent(accepted_media_type, renderer_context) or not self.compact or self.ensure_ascii:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            out = orjson.dumps(data, default=_ENCODER.default, option=orjson.OPT_NON_STR_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in out or b"\xe2\x80\xa9" in out:
            out = out.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return out
