"""Limit/offset pagination that refuses (400, naming the field) a page above the maximum or a bad number."""
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination


class StrictLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 1000

    def _parse(self, request, name: str, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValidationError({name: [f"A whole number is required, got {raw[:20]!r}."]}) from None
        if value < minimum:
            raise ValidationError({name: [f"Must be {minimum} or more."]})
        return value

    def get_limit(self, request):
        value = self._parse(request, self.limit_query_param, 1)
        if value is None:
            return self.default_limit
        if value > self.max_limit:
            raise ValidationError({self.limit_query_param: [f"At most {self.max_limit} rows per page."]})
        return value

    def get_offset(self, request):
        return self._parse(request, self.offset_query_param, 0) or 0

    def paginate_queryset(self, queryset, request, view=None):
        """DRF's, except that a page deep into an annotated list is picked by id first: PostgreSQL computes a
        SELECT-list subquery (a net device's latest health, a router's open alerts) for every row it skips
        with OFFSET, so `?offset=79000` would pay for 80,000 rows instead of the 1,000 shown."""
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.count = self.get_count(queryset)
        self.offset = self.get_offset(request)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        window = slice(self.offset, self.offset + self.limit)
        if self.offset and isinstance(queryset, QuerySet) and queryset.query.annotations:
            # One query still: the page's ids in a sub-select, the annotations only for those rows.
            return list(queryset.filter(pk__in=queryset.values("pk")[window]))
        return list(queryset[window])
