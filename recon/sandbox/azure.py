"""Azure plan subscriptions of a sandbox world: the plan offer, its meters, and each customer's resources."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from recon.sandbox.population import Customer
from recon.sandbox.rand import base128, det_code, det_guid, det_unit, guid_of, mix, stream

# The Azure plan offer (one product, one SKU, one availability), priced in USD like all Azure consumption.
AZURE_PRODUCT_ID = "DZH318Z0BCZC"
AZURE_SKU_ID = "0001"
AZURE_PRODUCT_NAME = "Azure plan"
PRICING_CURRENCY = "USD"
SHARE_WITH_AZURE = 0.45  # customers with an Azure plan
ROWS_PER_DAY_CAP = 6400  # resources per world: keeps `small` under 200k daily rows a month
WEEKDAY = (1.0, 1.02, 1.03, 1.01, 0.97, 0.62, 0.55)  # Monday..Sunday, for workload-driven meters
FLAT = (1.0,) * 7


@dataclass(frozen=True)
class Meter:
    """An Azure meter with its USD pay-as-you-go price (6 decimals) and usage profile."""

    key: str
    category: str
    subcategory: str
    name: str
    unit: str  # unitOfMeasure / unitType
    price_micro: int  # USD per unit in millionths
    service: str  # consumedService (resource provider)
    rtype: str  # resource type below the provider, for resourceUri
    low: float  # daily quantity range of a resource (log-uniform)
    high: float
    weekly: tuple[float, ...]
    pec: bool  # earns partner-earned credit (spot VMs never do)
    info: str = ""  # additionalInfo template


_M = Meter
METERS = [
    _M("vm-d4sv3", "Virtual Machines", "Dsv3 Series", "D4s v3", "1 Hour", 192000, "Microsoft.Compute",
       "virtualMachines", 8, 48, WEEKDAY, True, '{{"ServiceType":"Standard_D4s_v3","VCPUs":4}}'),
    _M("vm-d2v3", "Virtual Machines", "Dv3 Series", "D2 v3", "1 Hour", 96000, "Microsoft.Compute",
       "virtualMachines", 6, 48, WEEKDAY, True, '{{"ServiceType":"Standard_D2_v3","VCPUs":2}}'),
    _M("vm-b2ms", "Virtual Machines", "BS Series", "B2ms", "1 Hour", 83200, "Microsoft.Compute",
       "virtualMachines", 12, 48, WEEKDAY, True, '{{"ServiceType":"Standard_B2ms","VCPUs":2}}'),
    _M("vm-spot", "Virtual Machines", "Dv3 Series", "D4 v3 Spot", "1 Hour", 38400, "Microsoft.Compute",
       "virtualMachines", 4, 48, WEEKDAY, False, '{{"ServiceType":"Standard_D4_v3","VCPUs":4,"Spot":true}}'),
    _M("disk-p10", "Storage", "Premium SSD Managed Disks", "P10 LRS Disk", "1/Month", 19710000,
       "Microsoft.Compute", "disks", 0.032, 0.034, FLAT, True),
    _M("blob-hot", "Storage", "Tiered Block Blob", "Hot LRS Data Stored", "1 GB/Month", 18400,
       "Microsoft.Storage", "storageAccounts", 0.1, 40, FLAT, True),
    _M("blob-ops", "Storage", "Tiered Block Blob", "Hot Write Operations", "10K", 65000,
       "Microsoft.Storage", "storageAccounts", 0.5, 60, WEEKDAY, True),
    _M("egress", "Bandwidth", "Rtn Preference: MGN", "Standard Data Transfer Out", "1 GB", 87000,
       "Microsoft.Network", "publicIPAddresses", 0.2, 40, WEEKDAY, True),
    _M("sql-vcore", "SQL Database", "General Purpose - Compute Gen5", "vCore", "1 Hour", 504400,
       "Microsoft.Sql", "servers", 4, 48, FLAT, True),
    _M("app-b1", "Azure App Service", "Basic Plan", "B1", "1 Hour", 75000, "Microsoft.Web",
       "serverfarms", 24, 72, FLAT, True),
    _M("law-ingest", "Log Analytics", "", "Pay-as-you-go Data Ingestion", "1 GB", 2990000,
       "Microsoft.OperationalInsights", "workspaces", 0.05, 2, WEEKDAY, True),
    _M("kv-ops", "Key Vault", "", "Standard Operations", "10K", 30000, "Microsoft.KeyVault", "vaults",
       0.1, 30, WEEKDAY, True),
    _M("cosmos-ru", "Azure Cosmos DB", "RUs", "100 RU/s", "1 Hour", 8000, "Microsoft.DocumentDB",
       "databaseAccounts", 24, 480, FLAT, True),
    _M("acr-std", "Container Registry", "", "Standard Registry Unit", "1/Day", 666700,
       "Microsoft.ContainerRegistry", "registries", 1, 1, FLAT, True),
    _M("func-exec", "Functions", "", "Standard Execution Time", "10 GB Seconds", 160,
       "Microsoft.Web", "sites", 50, 9000, WEEKDAY, True),
]  # fmt: skip
_METER_WEIGHTS = [14, 10, 8, 3, 9, 8, 4, 7, 5, 6, 4, 3, 3, 2, 5]
REGIONS = [("EU West", "westeurope"), ("EU North", "northeurope"), ("US East", "eastus"), ("UK South", "uksouth")]
_APPS = ["web", "erp", "crm", "data", "shared", "backup", "api", "portal", "ml", "iot"]
_ENVS = ["prod", "test", "dev"]
_ENTITLEMENT_NAMES = ["Production", "Development", "Shared Services", "Data Platform", "Sandbox"]


@dataclass(frozen=True)
class Resource:
    """One Azure resource (one meter) in one Azure subscription (entitlement) of a plan."""

    idx: int  # position in the world's resource list
    plan: int
    meter: Meter
    meter_id: str
    region: str
    location: str
    entitlement: str
    entitlement_name: str
    group: str
    uri: str
    tags: str
    info: str
    base: float  # typical daily quantity
    first: date  # first usage day
    last: date  # last usage day (inclusive)
    seed_bits: int  # root of the resource's daily draws


@dataclass(frozen=True)
class Plan:
    """An Azure plan billing subscription of one customer."""

    idx: int
    customer: int
    subscription_id: str
    order_id: str
    availability_id: str
    start: date
    pec_loss: tuple[date, date] | None  # days the partner lost its admin access (no PEC)
    entitlements: tuple[str, ...]


def meter_id(seed: int, meter: Meter, region: str) -> str:
    """meterId of a meter in a region (a GUID, the same for every customer)."""
    return det_guid(seed, "meter", meter.key, region)


def make_plans(seed: int, customers: list[Customer], window_start: date) -> list[Plan]:
    """Azure plans of the customers that have one (at least one customer always has one)."""
    chosen = [c for c in customers if det_unit(seed, "azure-plan", c.idx) < SHARE_WITH_AZURE]
    if not chosen and customers:
        chosen = [min(customers, key=lambda c: det_unit(seed, "azure-plan", c.idx))]
    plans: list[Plan] = []
    avail = det_code(12, seed, "azure-availability")
    for c in chosen:
        bits = base128(seed, "azure-plan", c.idx)
        rng = stream(seed, "azure-plan-draws", c.idx)
        start = window_start - timedelta(days=30 + rng.randrange(700))
        loss = None
        if rng.random() < 0.25:
            first = window_start + timedelta(days=rng.randrange(80))
            loss = (first, first + timedelta(days=2 + rng.randrange(12)))
        ents = tuple(guid_of(mix(bits, 10 + i)) for i in range(1 + min(2, int(rng.expovariate(1.2)))))
        plans.append(
            Plan(len(plans), c.idx, guid_of(mix(bits, 1)), f"{mix(bits, 2) & 0xFFFFFFFFFFFF:012x}", avail, start,
                 loss, ents)
        )  # fmt: skip
    return plans


def make_resources(seed: int, plans: list[Plan], window_start: date, size_cap: int) -> list[Resource]:
    """Each plan's resources; heavy-tailed counts, scaled down so a world stays under `size_cap` resources."""
    counts = []
    for plan in plans:
        rng = stream(seed, "azure-count", plan.idx)
        counts.append(max(3, min(220, int(math.exp(rng.gauss(3.2, 0.9))))))
    total = sum(counts)
    if total > size_cap:
        counts = [max(3, c * size_cap // total) for c in counts]
    out: list[Resource] = []
    for plan, count in zip(plans, counts, strict=True):
        rng = stream(seed, "azure-resources", plan.idx)
        for n in range(count):
            meter = rng.choices(METERS, _METER_WEIGHTS)[0]
            region, location = REGIONS[0] if rng.random() < 0.6 else rng.choice(REGIONS)
            ent_i = 0 if rng.random() < 0.55 else rng.randrange(len(plan.entitlements))
            ent = plan.entitlements[ent_i]
            app, env = rng.choice(_APPS), rng.choice(_ENVS)
            group = f"rg-{app}-{env}"
            name = f"{app}{env}{meter.rtype[:3].lower()}{n:03d}"
            uri = f"/subscriptions/{ent}/resourceGroups/{group}/providers/{meter.service}/{meter.rtype}/{name}"
            tags = f'{{"env":"{env}","app":"{app}","costCenter":"CC{1000 + rng.randrange(9000)}"}}'
            base = math.exp(rng.uniform(math.log(meter.low), math.log(meter.high)))
            first = window_start - timedelta(days=1)
            if rng.random() < 0.18:
                first = window_start + timedelta(days=rng.randrange(100))
            last = date(2100, 1, 1)
            if rng.random() < 0.08:
                last = window_start + timedelta(days=20 + rng.randrange(120))
            out.append(
                Resource(
                    len(out),
                    plan.idx,
                    meter,
                    meter_id(seed, meter, region),
                    region,
                    location,
                    ent,
                    _ENTITLEMENT_NAMES[ent_i % len(_ENTITLEMENT_NAMES)],
                    group,
                    uri,
                    tags,
                    meter.info.format() if meter.info else "",
                    base,
                    first,
                    last,
                    base128(seed, "azure-resource", plan.idx, n),
                )
            )
    return out
