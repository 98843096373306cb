from django.db import migrations, models
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_existing(apps, schema_editor):
    # Rows stored before these columns existed get them counted now (one statement), so the unfiltered
    # alerts/counts (read from here) is right before each tenant's next sync refreshes its row.
    TenantFigures = apps.get_model("ncm_sync", "TenantFigures")
    Alert = apps.get_model("ncm_sync", "Alert")

    def per_tenant(qs):
        sub = qs.filter(tenant=OuterRef("tenant")).order_by().values("tenant").annotate(c=Count("pk")).values("c")
        return Coalesce(Subquery(sub, output_field=IntegerField()), 0)

    TenantFigures.objects.update(
        alerts_acknowledged=per_tenant(Alert.objects.filter(acknowledged_at__isnull=False)),
        alerts_total=per_tenant(Alert.objects.all()),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('ncm_sync', '0009_search_text_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenantfigures',
            name='alerts_acknowledged',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='tenantfigures',
            name='alerts_total',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
