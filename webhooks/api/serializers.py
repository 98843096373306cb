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
            url=pick("url"), events=pick("events", []), organization=pick("organization"), tenant=pick("tenant"),
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
