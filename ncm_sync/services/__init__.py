"""Writes for the NCM mirror: the sync engine, sync requests and the scheduler's dispatcher."""
from ncm_sync.services.runs import dispatch_due_syncs, request_sync, sync_tenant  # noqa: F401
from ncm_sync.services.sync import TenantSync, content_hash  # noqa: F401
