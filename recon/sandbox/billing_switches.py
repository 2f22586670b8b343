"""Switches of the v2 exports (merged into the world's switches by world.resolve_switches)."""

from __future__ import annotations

BILLING_DEFAULTS = {
    "manifest": "inline",  # succeeded operations carry the manifest inline, or as resourceLocation@odata.navigationLink
    "v2_key_style": "pascal",  # keys of the v2 JSON-lines files: PascalCase (billing.md §5.4) or the v1 camelCase names
    "export_polls": "1",  # polls an export answers `running` (with Retry-After) before it succeeds or fails
    "export_retry_after_s": "1",  # Retry-After of a running operation, seconds
    "export_rows_per_blob": "50000",  # rows per blob; an export writes as many blobs as it needs
    "export_ttl_polls": "100",  # an operation answers 410 after this many polls (its manifest and blobs with it)
    "export_ttl_s": "3600",  # ... or this many seconds after it was created (real monotonic time)
}
_CHOICES = {"manifest": ("inline", "link"), "v2_key_style": ("pascal", "camel")}
_NON_NEGATIVE = {"export_retry_after_s"}


def check_billing_switch(name: str, value: object) -> str:
    """The validated value of an export switch; ValueError otherwise."""
    text = str(value).strip().lower()
    if name in _CHOICES:
        if text not in _CHOICES[name]:
            raise ValueError(f"switch {name} must be one of {', '.join(_CHOICES[name])}, not {value!r}")
        return text
    if not text.isdigit() or (name not in _NON_NEGATIVE and int(text) < 1):
        kind = "a non-negative" if name in _NON_NEGATIVE else "a positive"
        raise ValueError(f"switch {name} must be {kind} integer, not {value!r}")
    return str(int(text))
