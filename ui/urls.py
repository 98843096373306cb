"""Portal web pages. Mounted at the site root by portal/urls.py."""
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, include, path, re_path

from ui.views import (
    account, admin, credentials, devices, jobs, maintenance, overview, reports, rollouts, tenant, users, webhooks,
)
from ui.views.errors import not_found_view, portal_errors

auth_patterns = [
    # Named without the namespace: Django's LOGIN_URL = "login" and LOGOUT_REDIRECT_URL = "login".
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

page_patterns = [
    path("", overview.overview, name="overview"),
    path("switch/", overview.tenant_switch, name="tenant-switch"),
    path("account/", account.account, name="account"),
    path("account/password/", account.PasswordChangeView.as_view(), name="password-change"),
    path("account/tokens/", account.api_tokens, name="api-tokens"),
    path("account/tokens/<int:token_id>/revoke/", account.api_token_revoke, name="api-token-revoke"),
    path("account/2fa/setup/", account.two_factor_setup, name="2fa-setup"),
    path("account/2fa/verify/", account.two_factor_verify, name="2fa-verify"),
    path("account/2fa/disable/", account.two_factor_disable, name="2fa-disable"),
    path("t/<int:tenant_id>/", tenant.tenant_dashboard, name="tenant-dashboard"),
    path("t/<int:tenant_id>/cellular/", tenant.cellular, name="cellular"),
    path("t/<int:tenant_id>/devices/", devices.devices, name="devices"),
    path("t/<int:tenant_id>/devices/push/", devices.device_push, name="device-push"),
    path("t/<int:tenant_id>/credentials/eccloud/", devices.eccloud_credential, name="eccloud-credential"),
    path("t/<int:tenant_id>/devices/<int:device_id>/", devices.device_detail, name="device-detail"),
    path("t/<int:tenant_id>/routers/<int:router_id>/", tenant.router_detail, name="router-detail"),
    path("t/<int:tenant_id>/alerts/", tenant.alerts, name="alerts"),
    path("t/<int:tenant_id>/alerts/acknowledge/", tenant.alerts_acknowledge_view, name="alerts-acknowledge"),
    path("t/<int:tenant_id>/alerts/<int:alert_id>/acknowledge/", tenant.alert_acknowledge_view, name="alert-acknowledge"),
    path("t/<int:tenant_id>/alerts/<int:alert_id>/reopen/", tenant.alert_reopen_view, name="alert-reopen"),
    path("t/<int:tenant_id>/sync/", tenant.sync_runs, name="sync-runs"),
    path("t/<int:tenant_id>/sync/now/", tenant.sync_now, name="sync-now"),
    path("t/<int:tenant_id>/jobs/", jobs.job_list, name="jobs"),
    path("t/<int:tenant_id>/jobs/new/", jobs.job_new, name="job-new"),
    path("t/<int:tenant_id>/jobs/<int:job_id>/", jobs.job_detail, name="job-detail"),
    path("t/<int:tenant_id>/jobs/<int:job_id>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("t/<int:tenant_id>/jobs/<int:job_id>/retry/", jobs.job_retry, name="job-retry"),
    path("t/<int:tenant_id>/reports/", reports.reports, name="reports"),
    path("t/<int:tenant_id>/reports/<int:report_id>/download/", reports.report_download, name="report-download"),
    path("t/<int:tenant_id>/reports/schedules/", reports.report_schedule_add, name="report-schedule-add"),
    path("t/<int:tenant_id>/reports/schedules/<int:schedule_id>/remove/", reports.report_schedule_remove,
         name="report-schedule-remove"),
    path("t/<int:tenant_id>/jobs/<int:job_id>/approve/", jobs.job_approve, name="job-approve"),
    path("t/<int:tenant_id>/jobs/<int:job_id>/reject/", jobs.job_reject, name="job-reject"),
    path("t/<int:tenant_id>/jobs/<int:job_id>/resume/", jobs.job_resume, name="job-resume"),
    path("msp-jobs/", rollouts.msp_jobs, name="msp-jobs"),
    path("msp-jobs/<int:org_job_id>/", rollouts.msp_job_detail, name="msp-job-detail"),
    path("msp-jobs/<int:org_job_id>/<str:action>/", rollouts.msp_job_control, name="msp-job-control"),
    path("t/<int:tenant_id>/credentials/", credentials.credentials, name="credentials"),
    path("t/<int:tenant_id>/credentials/test/", credentials.credential_test, name="credential-test"),
    path("t/<int:tenant_id>/maintenance/", maintenance.maintenance_windows, name="maintenance"),
    path("t/<int:tenant_id>/maintenance/<int:window_id>/", maintenance.maintenance_edit, name="maintenance-edit"),
    path("t/<int:tenant_id>/maintenance/<int:window_id>/delete/", maintenance.maintenance_delete, name="maintenance-delete"),
    path("org/audit/", admin.audit_log, name="audit"),
    path("org/users/", users.user_list, name="users"),
    path("org/users/new/", users.user_new, name="user-new"),
    path("org/users/<int:user_id>/", users.user_detail, name="user-detail"),
    path("org/users/<int:user_id>/active/", users.user_set_active, name="user-active"),
    path("org/users/<int:user_id>/memberships/", users.membership_add, name="membership-add"),
    path("org/users/<int:user_id>/memberships/<int:membership_id>/", users.membership_change, name="membership-change"),
    path("org/users/<int:user_id>/memberships/<int:membership_id>/remove/", users.membership_remove, name="membership-remove"),
    path("org/webhooks/", webhooks.webhook_list, name="webhooks"),
    path("org/webhooks/new/", webhooks.webhook_new, name="webhook-new"),
    path("org/webhooks/<int:webhook_id>/", webhooks.webhook_detail, name="webhook-detail"),
    path("org/webhooks/<int:webhook_id>/delete/", webhooks.webhook_delete, name="webhook-delete"),
    path("org/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/", webhooks.webhook_redeliver, name="webhook-redeliver"),
    path("org/security/", account.org_security, name="org-security"),
]



def _with_error_pages(patterns):
    """Every page answers the portal's own 404/500 pages, also with DEBUG on (ui/views/errors.py)."""
    return [URLPattern(p.pattern, portal_errors(p.callback), p.default_args, p.name) if isinstance(p, URLPattern) else p
            for p in patterns]


# Unknown page paths (ending in "/", so CommonMiddleware still adds a missing slash) answer the portal's 404.
# Not for the API, the admin, webhooks or static files: those keep their own answers.
catch_all = [re_path(r"^(?!api/|admin/|hooks/|static/).*/$", portal_errors(not_found_view), name="not-found")]

urlpatterns = _with_error_pages(auth_patterns) + [path("", include((_with_error_pages(page_patterns), "ui")))] + catch_all
