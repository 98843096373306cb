"""Isolation-test specs for the mirrored NCM models and sync runs (read-only endpoints)."""
from __future__ import annotations

from ncm_sync.models import Account, Alert, Group, Location, NetDevice, Router, SyncRun
from tests.api_specs import Spec, register
from tests.fleet import mirrored


register("ncm_sync.Account", Spec(make=mirrored(Account, name="acct")))
register("ncm_sync.Group", Spec(make=mirrored(Group, name="grp")))
register("ncm_sync.Router", Spec(make=mirrored(Router, name="rtr", state="online")))
register("ncm_sync.NetDevice", Spec(make=mirrored(NetDevice, name="mdm-1")))
register("ncm_sync.Location", Spec(make=mirrored(Location, method="gps")))
register("ncm_sync.Alert", Spec(make=mirrored(Alert, type="connection_state")))
register("ncm_sync.SyncRun", Spec(make=lambda tenant: SyncRun.objects.create(tenant=tenant, status="succeeded")))
