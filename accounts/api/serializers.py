"""Serializers for organizations, tenants, users, memberships, credentials, tokens and audit events.

They validate and shape data; writes go through accounts.services.
"""
from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from accounts import services
from accounts.models import SECRET_FIELDS, ApiToken, AuditEvent, Credential, Membership, Organization, Provider, Tenant, User
from portal.api.serializers import ScopedModelSerializer, ScopedPrimaryKeyRelatedField


def _actor(serializer):
    return serializer.context["request"].user


class OrganizationSerializer(ScopedModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "require_two_factor", "job_approval_threshold", "created_at"]
        read_only_fields = ["created_at"]

    def create(self, validated_data):
        return services.organization_create(actor=_actor(self), **validated_data)

    def update(self, instance, validated_data):
        return services.organization_update(actor=_actor(self), organization=instance, **validated_data)


class TenantSerializer(ScopedModelSerializer):
    class Meta:
        model = Tenant
        fields = [
            "id", "organization", "name", "slug", "timezone", "sync_interval_minutes",
            "last_synced_at", "sync_status", "sync_error", "created_at",
        ]
        read_only_fields = ["last_synced_at", "sync_status", "sync_error", "created_at"]

    def create(self, validated_data):
        return services.tenant_save(actor=_actor(self), **validated_data)

    def update(self, instance, validated_data):
        return services.tenant_save(actor=_actor(self), tenant=instance, **validated_data)


class UserSerializer(ScopedModelSerializer):
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"}, trim_whitespace=False)
    organization = ScopedPrimaryKeyRelatedField(
        source="home_organization", queryset=Organization.objects.all(), required=False, allow_null=True,
        help_text="The organization that manages this login (defaults to the one you administer).",
    )
    tenant = ScopedPrimaryKeyRelatedField(
        source="home_tenant", queryset=Tenant.objects.all(), required=False, allow_null=True,
        help_text="The tenant that manages this login, for a customer's own users.",
    )

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "is_active", "password",
                  "organization", "tenant", "date_joined", "last_login"]
        read_only_fields = ["date_joined", "last_login"]

    def create(self, validated_data):
        validated_data.pop("is_active", None)
        return services.user_create(created_by=_actor(self), **validated_data)

    def update(self, instance, validated_data):
        return services.user_update(actor=_actor(self), user=instance, **validated_data)


class MembershipSerializer(ScopedModelSerializer):
    class Meta:
        model = Membership
        fields = ["id", "user", "organization", "tenant", "role", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        organization = attrs.get("organization", getattr(self.instance, "organization", None))
        tenant = attrs.get("tenant", getattr(self.instance, "tenant", None))
        if bool(organization) == bool(tenant):
            raise serializers.ValidationError({"organization": ["Give exactly one of organization or tenant."]})
        return attrs

    def create(self, validated_data):
        return services.membership_create(actor=_actor(self), **validated_data)

    def update(self, instance, validated_data):
        return services.membership_update(actor=_actor(self), membership=instance, **validated_data)


class CredentialSerializer(ScopedModelSerializer):
    """Secrets are write-only; reads show masked hints only."""

    provider = serializers.ChoiceField(choices=Provider.choices, default=Provider.NCM)
    base_url = serializers.CharField(
        required=False, max_length=300,
        help_text=f"NCM API v2 root as the SDK takes it (default {settings.NCM_DEFAULT_BASE_URL}); "
                  f"ecCloud: default {settings.ECCLOUD_DEFAULT_BASE_URL}",
    )
    cp_api_id = serializers.CharField(write_only=True, required=False, max_length=200)
    cp_api_key = serializers.CharField(write_only=True, required=False, max_length=200)
    ecm_api_id = serializers.CharField(write_only=True, required=False, max_length=200)
    ecm_api_key = serializers.CharField(write_only=True, required=False, max_length=200)
    api_token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=2000)
    api_key = serializers.CharField(write_only=True, required=False, max_length=2000,
                                    help_text="ecCloud: the cloud's API key (x-api-key); write-only.")
    hints = serializers.JSONField(source="secret_hints", read_only=True)

    class Meta:
        model = Credential
        fields = ["id", "tenant", "provider", "base_url", *SECRET_FIELDS, "hints", "last_verified_at",
                  "created_at", "updated_at"]
        read_only_fields = ["last_verified_at", "created_at", "updated_at"]

    def _save(self, validated_data, instance=None):
        secrets_in = {name: validated_data.pop(name) for name in SECRET_FIELDS if name in validated_data}
        return services.credential_save(
            actor=_actor(self),
            tenant=validated_data.get("tenant", getattr(instance, "tenant", None)),
            provider=validated_data.get("provider", getattr(instance, "provider", Provider.NCM)),
            base_url=validated_data.get("base_url"),
            secrets_in=secrets_in,
            credential=instance,
        )

    def create(self, validated_data):
        return self._save(validated_data)

    def update(self, instance, validated_data):
        return self._save(validated_data, instance)


class ApiTokenSerializer(ScopedModelSerializer):
    expires_days = serializers.IntegerField(write_only=True, required=False, min_value=1, max_value=3650)
    token = serializers.SerializerMethodField(help_text="The token itself: shown in the create response only.")

    class Meta:
        model = ApiToken
        fields = ["id", "user", "name", "prefix", "token", "expires_days", "expires_at", "tenant", "write_enabled",
                  "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["user", "prefix", "expires_at", "created_at", "last_used_at", "revoked_at"]
        extra_kwargs = {"tenant": {"help_text": "Limit the token to one tenant (optional)."},
                        "write_enabled": {"help_text": "false: a read-only token."}}

    def get_token(self, obj) -> str | None:
        return getattr(obj, "clear_token", None)

    def create(self, validated_data):
        token, clear = services.api_token_create(
            user=self.context["request"].user, name=validated_data.get("name", ""),
            expires_days=validated_data.get("expires_days"), tenant=validated_data.get("tenant"),
            write_enabled=validated_data.get("write_enabled", True),
        )
        token.clear_token = clear
        return token

    def update(self, instance, validated_data):
        # Only the label changes: a token's reach is fixed when it is created.
        return services.api_token_rename(actor=_actor(self), token=instance,
                                         name=validated_data.get("name", instance.name))


class AuditEventSerializer(ScopedModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "actor_username", "organization", "tenant", "request_id", "source",
                  "action", "object_type", "object_id", "object_repr", "changes"]
        read_only_fields = fields
