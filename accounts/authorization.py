"""Write authorization lives in the ground layer (portal/authorization.py); re-exported for the apps."""
from portal.authorization import (  # noqa: F401
    READ_ACTIONS,
    ScopeDenied,
    actions_on,
    require_action,
    require_can_grant,
    require_manages_user,
)
