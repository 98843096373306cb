from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ncm_sync", "0010_tenant_figures_alert_totals"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncstate",
            name="full_sync_at",
            field=models.DateTimeField(
                blank=True, null=True,
                help_text="When a sync last listed every resource completely (NCM_FULL_SYNC_MINUTES)."),
        ),
        migrations.AddField(
            model_name="syncstate",
            name="change_cursors",
            field=models.JSONField(
                blank=True, default=dict,
                help_text="Per incremental filter (e.g. routers.updated_at__gt) the value a scheduled sync lists "
                          "changes after."),
        ),
    ]
