"""Page-only shaping of mirror reads. The reads themselves (routers, modems with their latest health, alert
counts, stat-card figures) live in `ncm_sync.selectors`, shared with the API."""
from __future__ import annotations

from typing import Any

from ncm_sync.selectors import router_configuration, routers_for  # noqa: F401  (routers_for: ui/views/jobs.py)

__all__ = ["configuration_layers", "routers_for"]


def configuration_layers(router) -> dict[str, Any]:
    """The router's configuration by layer (one implementation, shared with the API), with template flags."""
    config = router_configuration(router)
    return {**config, "has_group": config["group"] is not None, "has_individual": config["individual"] is not None}
