"""Limit/offset pagination that refuses (400, naming the field) a page above the maximum or a bad number."""
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
