"""List extras a viewset opts into with one mixin: streamed CSV export and ETag / If-None-Match.

    class RouterViewSet(ExportableListMixin, MirrorViewSet): ...

- `?format=csv` (or `Accept: text/csv`) on the list answers the *whole* filtered list (same scoping, filters,
  search and ordering as the JSON list, not paginated) as a streamed CSV: rows are read with
  `queryset.iterator(chunk_size=2000)` and written as they go, never built in memory. Columns are the
  serializer's fields (or `csv_fields`); nested values are JSON; cells starting with = + - @ are defused
  against spreadsheet formula injection (shared with the UI's exports: `portal.exports`).
- List and detail GETs carry a strong `ETag` (a digest of the body); a matching `If-None-Match` answers
  304 with no body. `Cache-Control: private, no-cache` keeps shared caches out and makes clients revalidate.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from django.utils.cache import get_conditional_response, patch_cache_control, set_response_etag
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from portal import fastjson
from portal.exports import csv_response

__all__ = ["CsvRenderer", "ExportableListMixin", "ETagMixin", "CsvExportMixin", "csv_value"]

CSV_CHUNK_SIZE = 2000


class CsvRenderer(BaseRenderer):
    """Selected by `?format=csv` / `Accept: text/csv` on opted-in lists; the mixin streams the body itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only reached for a body the mixin did not stream; errors are switched to JSON before this.
        return JSONRenderer().render(data, renderer_context=renderer_context)


def csv_value(value):
    """A cell value: nested data as compact JSON, booleans as true/false, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return fastjson.dumps(value).decode()
    return value


class ExportSchema(AutoSchema):
    """Documents the CSV variant (`format` parameter, `text/csv` body) and the ETag headers."""

    def _is_export_list(self) -> bool:
        return self.method == "GET" and getattr(self.view, "action", None) == "list" and isinstance(
            self.view, CsvExportMixin
        )

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_export_list():
            parameters.append(OpenApiParameter(
                "format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["json", "csv"],
                description="`csv`: the whole filtered list (not paginated) as a streamed CSV download, "
                "with a header row. `limit`/`offset` are ignored.",
            ))
        if self.method == "GET" and isinstance(self.view, ETagMixin):
            parameters.append(OpenApiParameter(
                "If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
                description="An ETag from an earlier response: 304 (no body) while the content is unchanged.",
            ))
            parameters.append(OpenApiParameter(
                "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
                description="Digest of the body; send it back in If-None-Match.",
            ))
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction == "response" and self._is_export_list():
            content = responses.get("200", {}).get("content", {})
            if "text/csv" in content:
                content["text/csv"] = {"schema": {
                    "type": "string",
                    "description": "CSV (UTF-8 with BOM): a header row, then one row per object of the filtered list.",
                }}
        if direction == "response" and self.method == "GET" and isinstance(self.view, ETagMixin):
            responses.setdefault("304", {"description": "Not modified (If-None-Match matched the ETag)."})
        return responses


class ETagMixin:
    """Strong ETag on successful GETs; If-None-Match → 304."""

    schema = ExportSchema()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            request.method in ("GET", "HEAD")
            and response.status_code == 200
            and isinstance(response, Response)
            and getattr(request, "accepted_renderer", None) is not None
            and request.accepted_renderer.format == "json"
        ):
            response.render()
            set_response_etag(response)
            patch_cache_control(response, private=True, no_cache=True)
            conditional = get_conditional_response(request._request, etag=response.headers["ETag"], response=response)
            if conditional is not response:
                return conditional
        return response


class CsvExportMixin:
    """`?format=csv` on the list streams every filtered row as CSV."""

    schema = ExportSchema()
    # Keys of the serializer's representation, in column order (default: every readable serializer field).
    csv_fields: Sequence[str] | None = None
    csv_name: str | None = None

    def get_renderers(self):
        renderers = super().get_renderers()
        if getattr(self, "action", None) == "list":
            renderers.append(CsvRenderer())
        return renderers

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors (400 for a bad filter, 403...) stay JSON even when CSV was asked for.
        renderer = getattr(request, "accepted_renderer", None)
        if isinstance(response, Response) and response.status_code >= 300 and isinstance(renderer, CsvRenderer):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        if isinstance(getattr(request, "accepted_renderer", None), CsvRenderer):
            return self.csv_export()
        return super().list(request, *args, **kwargs)

    def csv_columns(self, serializer) -> list[str]:
        if self.csv_fields:
            return list(self.csv_fields)
        return [name for name, field in serializer.fields.items() if not field.write_only]

    def csv_rows(self, queryset, serializer, columns) -> Iterator[list]:
        for obj in queryset.iterator(chunk_size=CSV_CHUNK_SIZE):
            data = serializer.to_representation(obj)
            yield [csv_value(data.get(name)) for name in columns]

    def csv_export(self):
        queryset = self.filter_queryset(self.get_queryset())
        serializer = self.get_serializer()
        columns = self.csv_columns(serializer)
        name = self.csv_name or getattr(self, "basename", None) or queryset.model._meta.verbose_name_plural
        rows = self.csv_rows(queryset, serializer, columns)
        # Run the query (its first chunk) here, inside the view: a database refusal (a bad filter value)
        # answers a JSON error instead of breaking the stream half-way.
        first = next(rows, None)
        rows = itertools.chain([first], rows) if first is not None else iter(())
        response = csv_response(str(name), columns, rows)
        response["Cache-Control"] = "private, no-store"
        return response


class ExportableListMixin(CsvExportMixin, ETagMixin):
    """Both: CSV export of the list and ETags. List it first among the bases."""

    schema = ExportSchema()
