"""Portal pages."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.models import Tenant


@login_required
def home(request):
    tenants = Tenant.objects.for_user(request.user).select_related("organization")
    return render(request, "portal/home.html", {"tenants": tenants})
