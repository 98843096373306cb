"""NCM configuration-diff rules, shared by the NCM simulator and the portal.

NCM (NetCloud Manager API v2) expresses every device and group configuration as a
*diff* against the firmware defaults: a two-element list ``[updates, removals]``
(seed 001, "Configuration in API V2"). This package implements the rules NCM
applies to such diffs, in pure Python with no Django import, so that the
simulator (``ncm_sim``) and the portal's config-push preview can never disagree.

Public API::

    validate_diff(diff) -> list[str]            # [] when valid; NCM-worded messages
    diff_errors(diff) -> list[DiffError]        # the same, structured (path/reason/value)
    apply_patch(config, diff) -> new_config     # PATCH: merge updates, keep the rest
    apply_put(diff) -> new_config               # PUT: replace
    merge_layers(group_config, individual_config) -> (merged, origins)
    flatten(tree, expand_lists=False) -> {dotted path: value}   # the one flattening of a config tree
    mask_passwords(config) -> config            # passwords read back as "*"
    ConfigDiffError(message)                    # raised by apply_* on an invalid diff
"""
from .diff import (
    EMPTY_DIFF,
    ID_ARRAYS,
    MASK,
    ConfigDiffError,
    DiffError,
    apply_patch,
    apply_put,
    diff_errors,
    flatten,
    is_uuid,
    mask_passwords,
    merge_layers,
    normalize,
    validate_diff,
)

__all__ = [
    "EMPTY_DIFF",
    "ID_ARRAYS",
    "MASK",
    "ConfigDiffError",
    "DiffError",
    "apply_patch",
    "apply_put",
    "diff_errors",
    "flatten",
    "is_uuid",
    "mask_passwords",
    "merge_layers",
    "normalize",
    "validate_diff",
]
