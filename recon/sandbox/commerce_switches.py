"""Switches of the commerce side (merged into the world's switches by world.resolve_switches)."""

from __future__ import annotations

COMMERCE_DEFAULTS = {
    "app_user_only": "off",
    "order_list_delay_s": "0",
    "order_provisioning_s": "0",
    "rate_limit_per_min": "500",
    "rate_limit_burst": "50",
    "rate_limit_billing_per_min": "0",
    "audit_long_window": "reject",
}
_CHOICES = {"app_user_only": ("off", "on"), "audit_long_window": ("reject", "clamp")}
_POSITIVE = {"rate_limit_burst"}


def check_commerce_switch(name: str, value: object) -> str:
    """The validated value of a commerce switch; ValueError otherwise."""
    text = str(value).strip().lower()
    if name in _CHOICES:
        if text not in _CHOICES[name]:
            raise ValueError(f"switch {name} must be one of {', '.join(_CHOICES[name])}, not {value!r}")
        return text
    if not text.isdigit() or (name in _POSITIVE and int(text) < 1):
        kind = "a positive" if name in _POSITIVE else "a non-negative"
        raise ValueError(f"switch {name} must be {kind} integer, not {value!r}")
    return str(int(text))
