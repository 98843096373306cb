"""Filterset base: every tenant-owned list filters with ?tenant=<id> (by id, so a foreign id just finds nothing)."""
import django_filters


class TenantFilterSet(django_filters.FilterSet):
    tenant = django_filters.NumberFilter(field_name="tenant_id", help_text="Only rows of this tenant (id).")
