"""`recon demo`: the whole flow on the embedded sandbox (extract -> reconcile -> report)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recon.errors import SettingsError
from recon.extract import ExtractSummary
from recon.extract.base import Reporter
from recon.extract.pricelist import load_pricelist
from recon.reconcile import ReconcileSummary, reconcile
from recon.report import write_monthly
from recon.sandbox import SandboxServer
from recon.sandbox.pricelist import FIRST_MONTH, LAST_MONTH, write_price_list
from recon.sandbox.world import first_month
from recon.settings import Secret, Settings, load_settings
from recon.walk import Step, walk

# The demo uses its own sandbox: only where data goes is read from the user's settings.
STORAGE_SETTINGS = frozenset({"db", "data_dir"})


@dataclass
class DemoResult:
    """What the demo produced."""

    settings: Settings
    extracted: ExtractSummary
    reconciled: ReconcileSummary
    report: Path


def sandbox_settings(base: Settings, info: dict[str, object], sandbox_json: Path) -> Settings:
    """Connection settings taken from a running sandbox, storage settings kept from `base`."""
    sources = {**base.sources}
    for name in (
        "pc_base_url",
        "graph_base_url",
        "authority",
        "tenant_id",
        "client_id",
        "client_secret",
        "ca_bundle",
        "sandbox",
    ):
        sources[name] = "demo sandbox"
    return dataclasses.replace(
        base,
        pc_base_url=str(info["pc_base_url"]).rstrip("/"),
        graph_base_url=str(info["graph_base_url"]).rstrip("/"),
        authority=str(info["authority"]),
        tenant_id=str(info["tenant_id"]),
        client_id=str(info["client_id"]),
        client_secret=Secret(str(info["client_secret"])),
        client_cert=None,
        ca_bundle=Path(str(info["ca_cert"])),
        sandbox=sandbox_json,
        sources=sources,
        sandbox_info=info,
    )


def run_demo(
    *,
    config: Path | None = None,
    db: Path | None = None,
    seed: int = 1,
    size: str = "tiny",
    reporter: Reporter | None = None,
    switches: dict[str, str] | None = None,
    inject_rates: dict[str, float] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> DemoResult:
    """Start the sandbox at its first month, walk it to its `today` extracting as a partner would, reconcile and
    write the monthly export."""
    if size == "large":
        raise SettingsError("the demo walks the tiny or small world; large (over a million lines) is for benchmarks")
    base = load_settings(config, overrides={"db": db} if db else None, only=STORAGE_SETTINGS)
    state_dir = base.data_dir / "sandbox"
    try:
        server = SandboxServer(
            state_dir,
            seed=seed,
            size=size,
            start=first_month(seed, size),
            switches=switches,
            inject_rates=inject_rates,
        )
    except ValueError as exc:  # the sandbox refuses sizes, switches and rates it does not know
        raise SettingsError(f"sandbox: {exc}") from None
    with server as sandbox:
        settings = sandbox_settings(base, dict(sandbox.info), state_dir / "sandbox.json")
        extracted = walk(settings, sandbox.info, reporter=reporter, on_step=on_step).merged()
    # The partner's download of the Pricing workspace's price list: it prices renewals no order prices.
    price_list = settings.data_dir / "pricelists" / f"sandbox-seed{seed}.csv"
    write_price_list(price_list, seed=seed, first=FIRST_MONTH, last=LAST_MONTH)
    load_pricelist(settings, price_list)
    reconciled = reconcile(settings)
    report = write_monthly(settings)
    return DemoResult(settings, extracted, reconciled, report)
