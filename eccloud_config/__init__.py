"""IgniteNet ecCloud configuration rules, shared by the simulator (``eccloud_sim``) and the portal.

Pure Python, no Django: the simulator and the portal's preview/push can never disagree.
Source: the ecCloud public API article (shared/seeds/003), "Configuration Structure",
"Configuration Merging" and the ``config-changes`` example.

Public API::

    merge(site, device) -> {key: {"value", "origin", "level"}}    # the article's merge table
    effective(site, device) -> {key: value}
    entity_of(key) -> "root/id" or None                            # numeric node = entity
    plan_changes(site, device, defaults, changes) -> {key: {"value", "origin"} or None}
    apply_changes(device, changes) -> new device config             # what the cloud stores
    validate_changes(changes) -> list[str]                          # [] when valid
"""
from .rules import (
    ORIGIN_DEVICE,
    ORIGIN_SITE,
    ORIGIN_SITE_DEVICE,
    ORIGINS,
    SITE_ENTITY_MIN_ID,
    ConfigChangeError,
    apply_changes,
    effective,
    entity_of,
    is_site_entity,
    merge,
    plan_changes,
    validate_changes,
)

__all__ = [
    "ORIGIN_DEVICE", "ORIGIN_SITE", "ORIGIN_SITE_DEVICE", "ORIGINS", "SITE_ENTITY_MIN_ID", "ConfigChangeError",
    "apply_changes", "effective", "entity_of", "is_site_entity", "merge", "plan_changes", "validate_changes",
]
