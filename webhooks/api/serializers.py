from rest_framework import serializers

from portal.api.serializers import ScopedModelSerializer
from webhooks import services
from webhooks.models import Event, Webhook, WebhookDelivery


class WebhookSerializer(ScopedModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), allow_empty=False)
    secret = serializers.CharField(
        write_only=True, required=False,
        help_text="whsec_… (generated when omitted). Shown once, in the create response as `secret`.",
    )

    class Meta:
        model = Webhook
        fields = ["id", "organization", "tenant", "url", "events", "enabled", "description", "secret",
                  "consecutive_failures", "disabled_reason", "created_at"]
        read_only_fields = ["consecutive_failures", "disabled_reason", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        clear = getattr(instance, "clear_secret", None)
        if clear:
            data["secret"] = clear  # shown once, when it is set
        return data

    def _save(self, validated_data, instance=None):
        def pick(name, default=None):
            return validated_data.get(name, getattr(instance, name, default) if instance else default)

        webhook, clear = services.webhook_save(
            actor=self.context["request"].user, url=pick("url"), events=pick("events", []), organization=pick("organization"), tenant=pick("tenant"),
            enabled=pick("enabled", True), description=pick("description", ""), secret=validated_data.get("secret"),
            webhook=instance,
        )
        webhook.clear_secret = clear
        return webhook

    def create(self, validated_data):
        return self._save(validated_data)

    def update(self, instance, validated_data):
        return self._save(validated_data, instance)


class WebhookDeliverySerializer(ScopedModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "webhook", "tenant", "event", "msg_id", "status", "attempts", "response_code", "error",
                  "created_at", "last_attempt_at", "next_attempt_at", "payload"]
        read_only_fields = fields


class AlertPushReceiverSerializer(serializers.Serializer):
    """The tenant's NCM alert push receiver as created or rotated: `url` and `secret` are shown this once."""

    tenant = serializers.IntegerField(source="receiver.tenant_id", read_only=True)
    url = serializers.URLField(
        read_only=True,
        help_text="Set it as the NCM alert push destination's endpoint URL (`endpoint.url`). Unguessable; "
        "treat it as a secret. Rotating gives a new one; the old stops working.",
    )
    secret = serializers.CharField(
        read_only=True,
        help_text="Set it as the destination's `authentication.secret`. NCM signs each push with it "
        "(`x-cp-signature`: hex HMAC-SHA256 of the raw body). Shown once.",
    )
    created_at = serializers.DateTimeField(source="receiver.created_at", read_only=True)
    rotated_at = serializers.DateTimeField(source="receiver.rotated_at", read_only=True, allow_null=True)
