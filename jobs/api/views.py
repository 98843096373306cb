"""Jobs API: create (a tenant's job, or an MSP-wide one), preview, cancel, retry failed; items, speed test history,
maintenance windows, MSP-wide jobs."""
from django.db.models import Prefetch
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from accounts.roles import Action
from jobs import filtersets, services
from jobs.api import serializers
from jobs.models import Job, JobItem, MaintenanceWindow, OrgJob, SpeedTestResult
from jobs.preview import job_preview
from portal.api.export import ExportableListMixin
from portal.api.viewsets import TenantScopedModelViewSet, TenantScopedReadOnlyViewSet, TenantScopedViewSet


class JobViewSet(TenantScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """Bulk reboots, speed tests and config pushes. Roles: reboot and config_push need full_access or admin;
    speed_test also diagnostic."""

    queryset = Job.objects.all()
    filterset_class = filtersets.JobFilterSet
    ordering_fields = ["created_at", "id", "status"]
    # Operating a job needs the action of its kind (jobs.models.JobQuerySet); any of them admits the request.
    write_action = Action.CHANGE
    write_any_of = (Action.REBOOT, Action.SPEED_TEST, Action.PUSH_CONFIG)

    def _names_organization(self) -> bool:
        """An organization-level (MSP-wide) job: `organization` instead of `tenant`, the body of /org-jobs/."""
        data = self.request.data if self.action == "create" else {}
        return isinstance(data, dict) and "organization" in data and "tenant" not in data

    def get_serializer_class(self):
        if self.action == "create" and self._names_organization():
            return serializers.OrgJobRequestSerializer
        if self.action in ("create", "preview"):
            return serializers.JobRequestSerializer
        if self.action == "list":
            return serializers.JobListSerializer
        if self.action == "retry_failed":
            return serializers.RetryFailedSerializer
        if self.action == "reject":
            return serializers.RejectSerializer
        return serializers.JobSerializer

    def scoped_queryset(self, queryset):
        if self.action == "retrieve":
            return queryset.prefetch_related(Prefetch("items", queryset=JobItem.objects.order_by("id")), "log")
        return queryset

    def perform_save(self, serializer):
        data = serializer.validated_data
        if isinstance(serializer, serializers.OrgJobRequestSerializer):
            return services.org_job_create(
                user=self.request.user, organization=data["organization"], kind=data["kind"],
                targets=data["targets"], parameters=data["parameters"], rollout=data.get("rollout"),
            )
        return services.job_create(
            user=self.request.user, tenant=data["tenant"], kind=data["kind"], router_ids=data["routers"],
            group_ids=data["groups"], parameters=data["parameters"], scheduled_for=data.get("scheduled_for"),
            wait_for_window=data["wait_for_window"], device_ids=data.get("devices") or None,
            rollout=data.get("rollout"),
        )

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="JobCreate", resource_type_field_name=None,
            serializers=[serializers.JobRequestSerializer, serializers.OrgJobRequestSerializer]),
        responses={201: PolymorphicProxySerializer(
            component_name="JobCreated", resource_type_field_name=None,
            serializers=[serializers.JobSerializer, serializers.OrgJobSerializer])},
        description="A tenant's job (`tenant`), or an MSP-wide job (`organization` instead of `tenant`, with "
                    "`targets` per tenant: the body and answer of POST /api/v1/org-jobs/, its Location there).",
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        if isinstance(serializer, serializers.OrgJobRequestSerializer):
            org_job = serializer.instance
            return Response(serializers.OrgJobSerializer(org_job, context=self.get_serializer_context()).data,
                            status=status.HTTP_201_CREATED,
                            headers={"Location": reverse("orgjob-detail", args=[org_job.pk], request=request)})
        job = Job.objects.prefetch_related("items", "log").get(pk=serializer.instance.pk)
        return Response(serializers.JobSerializer(job, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.JobRequestSerializer, responses={200: dict})
    @action(detail=False, methods=["post"], required_action=Action.VIEW)
    def preview(self, request):
        """Per target, what the job would do. Sends nothing to NCM."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(job_preview(
            user=request.user, tenant=data["tenant"], kind=data["kind"], router_ids=data["routers"],
            group_ids=data["groups"], parameters=data["parameters"], device_ids=data.get("devices") or None,
        ))

    @extend_schema(request=None, responses={200: serializers.JobSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def cancel(self, request, pk=None):
        job = services.job_cancel(job=self.get_object(), user=request.user)
        return Response(serializers.JobListSerializer(job, context=self.get_serializer_context()).data)

    @extend_schema(request=serializers.RetryFailedSerializer, responses={201: serializers.JobSerializer})
    @action(detail=True, methods=["post"], url_path="retry-failed", required_action=Action.CHANGE)
    def retry_failed(self, request, pk=None):
        job = self.get_object()
        options = serializers.RetryFailedSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        new_job = services.job_retry_failed(job=job, user=request.user, include_unknown=options.validated_data["include_unknown"])
        return Response(serializers.JobSerializer(new_job, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)


    @extend_schema(request=None, responses={200: serializers.JobListSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def approve(self, request, pk=None):
        """Approve a job awaiting approval: by another user than its creator holding its action (two-person rule)."""
        job = services.job_approve(job=self.get_object(), user=request.user)
        return Response(serializers.JobListSerializer(job, context=self.get_serializer_context()).data)

    @extend_schema(request=serializers.RejectSerializer, responses={200: serializers.JobListSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def reject(self, request, pk=None):
        """Reject a job awaiting approval: it ends cancelled and sends nothing."""
        job = self.get_object()
        options = serializers.RejectSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        job = services.job_reject(job=job, user=request.user, reason=options.validated_data["reason"])
        return Response(serializers.JobListSerializer(job, context=self.get_serializer_context()).data)


    @extend_schema(request=None, responses={200: serializers.JobListSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def resume(self, request, pk=None):
        """Continue a halted rollout with its next wave (its failures so far are accepted)."""
        job = services.job_resume(job=self.get_object(), user=request.user)
        return Response(serializers.JobListSerializer(job, context=self.get_serializer_context()).data)


class JobItemViewSet(ExportableListMixin, TenantScopedReadOnlyViewSet):
    """Job items across jobs (one per target), filterable by job, router and status; `?format=csv` exports."""

    csv_name = "job-items"
    queryset = JobItem.objects.all()
    serializer_class = serializers.JobItemSerializer
    filterset_class = filtersets.JobItemFilterSet
    ordering_fields = ["id", "status", "finished_at"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("job")  # each item's summary reads its job's kind


class SpeedTestResultViewSet(TenantScopedReadOnlyViewSet):
    """Speed test history per modem."""

    queryset = SpeedTestResult.objects.all()
    serializer_class = serializers.SpeedTestResultSerializer
    filterset_class = filtersets.SpeedTestResultFilterSet
    ordering_fields = ["created_at", "download_mbps", "upload_mbps", "latency_ms"]


class MaintenanceWindowViewSet(TenantScopedModelViewSet):
    """Weekly maintenance windows (tenant's time zone) that waiting jobs run in."""

    def perform_delete(self, instance):
        services.maintenance_window_delete(actor=self.request.user, window=instance)

    queryset = MaintenanceWindow.objects.all()
    serializer_class = serializers.MaintenanceWindowSerializer
    filterset_class = filtersets.MaintenanceWindowFilterSet
    ordering_fields = ["weekday", "start_time"]


class OrgJobViewSet(TenantScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """MSP-wide jobs: the same job on many tenants of an organization, in waves of whole tenants (canary
    customers first), each tenant's job in its maintenance window and in-flight cap. Organization-level roles
    only; each tenant's part is an ordinary job in /jobs/."""

    queryset = OrgJob.objects.all()
    filterset_class = filtersets.OrgJobFilterSet
    ordering_fields = ["created_at", "id", "status"]
    write_action = Action.CHANGE
    write_any_of = (Action.REBOOT, Action.SPEED_TEST, Action.PUSH_CONFIG)

    def get_serializer_class(self):
        if self.action == "create":
            return serializers.OrgJobRequestSerializer
        if self.action == "reject":
            return serializers.RejectSerializer
        return serializers.OrgJobSerializer

    def perform_save(self, serializer):
        data = serializer.validated_data
        return services.org_job_create(
            user=self.request.user, organization=data["organization"], kind=data["kind"], targets=data["targets"],
            parameters=data["parameters"], rollout=data.get("rollout"),
        )

    @extend_schema(request=serializers.OrgJobRequestSerializer, responses={201: serializers.OrgJobSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializers.OrgJobSerializer(serializer.instance, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    def _answer(self, org_job):
        return Response(serializers.OrgJobSerializer(org_job, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: serializers.OrgJobSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def approve(self, request, pk=None):
        """Approve (another user than the creator, holding the kind's action on the organization)."""
        return self._answer(services.org_job_approve(org_job=self.get_object(), user=request.user))

    @extend_schema(request=serializers.RejectSerializer, responses={200: serializers.OrgJobSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def reject(self, request, pk=None):
        org_job = self.get_object()
        options = serializers.RejectSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        return self._answer(services.org_job_reject(org_job=org_job, user=request.user,
                                                    reason=options.validated_data["reason"]))

    @extend_schema(request=None, responses={200: serializers.OrgJobSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def resume(self, request, pk=None):
        """Continue a halted MSP-wide rollout with its next wave of tenants."""
        return self._answer(services.org_job_resume(org_job=self.get_object(), user=request.user))

    @extend_schema(request=None, responses={200: serializers.OrgJobSerializer})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def cancel(self, request, pk=None):
        """Cancel every tenant job not finished."""
        return self._answer(services.org_job_cancel(org_job=self.get_object(), user=request.user))
