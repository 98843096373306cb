"""Base serializer: every related-object input is limited to what the caller may see."""
from __future__ import annotations

from rest_framework import serializers

from portal.roles import Action

__all__ = ["ScopedPrimaryKeyRelatedField", "ScopedModelSerializer"]


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key input that accepts only ids the caller may see; any other id is "does not exist"."""

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if not hasattr(queryset, "for_user"):
            raise TypeError(f"{queryset.model.__name__} has no for_user(): related inputs must be scoped.")
        if request is None:
            return queryset.none()
        return queryset.for_user(request.user, Action.VIEW)


class ScopedModelSerializer(serializers.ModelSerializer):
    """ModelSerializer whose generated relation fields are all `ScopedPrimaryKeyRelatedField`."""

    serializer_related_field = ScopedPrimaryKeyRelatedField
