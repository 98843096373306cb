"""Filter bases: every tenant-owned list filters with ?tenant=<id> (by id, so a foreign id just finds nothing);
`?search=` through `SearchFilter`."""
import django_filters
from django.db.models import Value
from django.db.models.functions import Concat, Upper
from rest_framework import filters

# Between the searched columns: nobody types it, so a term never matches across two columns.
SEARCH_SEPARATOR = "\x1f"


def search_text(*columns: str) -> Upper:
    """One upper-cased text of every searched column. A list searching it runs one LIKE per term, which one
    trigram index on this very expression serves (`ncm_sync` migration 0009); DRF's own search ORs an
    `UPPER(col) LIKE` per column, which PostgreSQL answers with a scan of the whole table once it holds 100k rows."""
    parts = []
    for column in columns:
        parts += [column, Value(SEARCH_SEPARATOR)]
    return Upper(Concat(*parts[:-1]))


class TenantFilterSet(django_filters.FilterSet):
    tenant = django_filters.NumberFilter(field_name="tenant_id", help_text="Only rows of this tenant (id).")


class SearchFilter(filters.SearchFilter):
    """DRF's search (the same terms, case-insensitive, every term in some searched column). A view that sets
    `search_expression = search_text(*search_fields)` is searched through that one expression instead."""

    def filter_queryset(self, request, queryset, view):
        expression = getattr(view, "search_expression", None)
        terms = self.get_search_terms(request)
        if expression is None or not terms:
            return super().filter_queryset(request, queryset, view)
        queryset = queryset.alias(search_text=expression)
        for term in terms:
            queryset = queryset.filter(search_text__contains=term.upper())
        return queryset
