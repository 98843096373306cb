from accounts.api import views
from portal.api.router import router

router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("tenants", views.TenantViewSet, basename="tenant")
router.register("users", views.UserViewSet, basename="user")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("credentials", views.CredentialViewSet, basename="credential")
router.register("tokens", views.ApiTokenViewSet, basename="apitoken")
router.register("audit-events", views.AuditEventViewSet, basename="auditevent")
