"""The audit writer lives in the ground layer (portal/audit.py); re-exported for the apps."""
from portal.audit import AuditAction, diff, record_change, snapshot  # noqa: F401
