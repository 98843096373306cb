"""Reads over the mirror that more than one caller needs (API and UI)."""
from __future__ import annotations

from typing import Any

import ncm_config
from ncm_sync.models import ConfigurationManager, Router

__all__ = ["router_configuration"]


def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: tree}


def router_configuration(router: Router) -> dict[str, Any]:
    """A router's configuration layers (NCM's rules, `ncm_config`): group, individual, the effective result,
    and per setting the layer its value comes from. Passwords are masked throughout."""
    group_layer = ncm_config.normalize((router.group.data or {}).get("configuration")) if router.group_id else None
    manager = (
        ConfigurationManager.objects.filter(router=router, deleted_at__isnull=True).order_by("-last_seen_at").first()
    )
    individual_layer = ncm_config.normalize((manager.data or {}).get("configuration")) if manager else None
    group, individual = ncm_config.mask_passwords(group_layer or [{}, []]), ncm_config.mask_passwords(individual_layer or [{}, []])
    merged, origins = ncm_config.merge_layers(group, individual)
    removed = sorted({".".join(map(str, path)) if isinstance(path, (list, tuple)) else str(path) for path in individual[1]})
    group_values, merged_values = _leaves(group[0]), _leaves(merged[0])
    rows = []
    for path in sorted(origins):
        if origins[path] == "group" and any(path == r or path.startswith(r + ".") for r in removed):
            continue  # removed on this router
        rows.append({
            "path": path, "value": merged_values.get(path), "layer": origins[path],
            "overrides": origins[path] == "individual" and path in group_values,
            "group_value": group_values.get(path) if origins[path] == "individual" else None,
        })
    return {
        "group": group if group_layer is not None else None,
        "individual": individual if individual_layer is not None else None,
        "effective": merged,
        "rows": rows,
        "removed": removed,
        "configuration_manager": manager.ncm_id if manager else None,
        "manager": manager,
    }
