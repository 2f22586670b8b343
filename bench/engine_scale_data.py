"""A generated billed month for `engine_scale.py`: populated `stg` tables, built by DuckDB SQL alone.

The month: October 2025 closed and invoiced (one new-commerce invoice in EUR plus a credit note amending it),
November 2025 open, the source's clock at 2025-11-10 12:00 UTC. Every row comes from `range()` and `hash()`
in SQL; Python only fills in the numbers (sizes, seed) and picks the unbilled pull days from a per-day count.

- Seat subscriptions (`stg.subscriptions`): P1M monthly 25 %, P1Y monthly 45 %, P1Y annual 20 %, P3Y monthly /
  annual / triennial 4 / 3 / 3 %; purchased over the 36 months before October (and November 1-10), half of
  them on the 1st of a month (calendar-aligned), with 1-2,000 seats. Their order lines (`stg.orders`): the
  purchase, a renewal at every P1Y/P3Y anniversary, a seat add in the history of 15 %, and in October a seat
  add (8 %), and for P1M a removal (3 %) or a cancellation (1 %) inside the 7-day window; 3 % add seats in
  November. Prices come from a price list (P1M +20 %, annual billed monthly +5 % from 2025-04-01) and stay
  locked for the term; 5 % of the annual-term purchases since 2025 carry a 10 % promotion.
- Reconciliation lines (`stg.recon_lines`): the lines Microsoft issues for that history, with the arithmetic of
  docs/rating.md (cycle charges, new, renew, refund-and-charge pairs for seat changes, cancellation refunds;
  rounding B, cycle days of the start month): October's billed on the invoice, and unbilled snapshots of both
  months pulled on the days that bring the total closest to the requested line count (each snapshot holds
  the lines dated up to its pull day). Azure plans (one per 500 seat subscriptions, 8 meters each) add a
  consumption line per meter, month-to-date in the unbilled snapshots.
- Daily rated usage (`stg.usage_lines`): October billed, November 1-9 unbilled, one row per meter and day.
- `stg.invoices`, `stg.customers`, `stg.invoice_summaries` and the `meta.loads` row of every unit.

Seeded discrepancies, `cases` of each kind (one per 100,000 subscriptions, at least one): seats over-billed
(R01), a price not locked (R02), a wrong proration (R03), a charge after a cancellation and a charge for an
unknown subscription (R04), a missing charge (R05), a duplicate (R06), a missing and a doubled credit (R07),
an unbilled line that vanished or changed on the invoice (R08), the invoice total (R09, once), a consumption line
against its daily rows (R10), orders and subscriptions without each other (R11), an exchange rate (R12, and
one customer in a market whose currency is not the billed one), daily usage spikes (R13); one subscription
in 2,000 has a seat count its order history does not explain (R00).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from recon.store import open_writer
from recon.transform import build_staging

CLOSED, OPEN, AS_OF = date(2025, 10, 1), date(2025, 11, 1), date(2025, 11, 10)
INVOICE, CREDIT_NOTE = "G052368394", "G052419077"
PAGE = 2000
RATE_USD = {CLOSED: "0.865432100", OPEN: "0.861234500"}  # USD -> EUR of each month (Azure consumption)

PRODUCTS = (  # name, annual-term price per month in EUR cents
    ("Microsoft 365 Business Basic", 562), ("Microsoft 365 Business Standard", 1170),
    ("Microsoft 365 Business Premium", 2060), ("Office 365 E1", 947), ("Office 365 E3", 2261),
    ("Microsoft 365 E3", 3440), ("Microsoft 365 E5", 5470), ("Exchange Online (Plan 1)", 375),
    ("Exchange Online (Plan 2)", 750), ("Power BI Pro", 1310), ("Power BI Premium Per User", 2250),
    ("Visio Plan 2", 1474), ("Project Plan 3", 2810), ("Teams Essentials", 375),
    ("Dynamics 365 Sales Enterprise", 9190), ("Dynamics 365 Customer Service Enterprise", 10319),
)  # fmt: skip
METERS = (  # category, sub-category, name, region, unit of measure, USD micro-price, service
    ("Virtual Machines", "Dsv3 Series", "D4s v3", "EU West", "1 Hour", 192000, "Microsoft.Compute"),
    ("Virtual Machines", "Dsv5 Series", "D2s v5", "EU West", "1 Hour", 96000, "Microsoft.Compute"),
    ("Storage", "Tiered Block Blob", "Hot LRS Data Stored", "EU West", "1 GB/Month", 20800, "Microsoft.Storage"),
    ("Storage", "Premium SSD Managed Disks", "P10 LRS Disk", "EU West", "1/Month", 19710000, "Microsoft.Compute"),
    ("SQL Database", "General Purpose", "vCore", "EU West", "1 Hour", 253300, "Microsoft.Sql"),
    ("Bandwidth", "Rtn Preference: MGN", "Standard Data Transfer Out", "Zone 1", "1 GB", 87000, "Microsoft.Network"),
    ("Azure App Service", "Premium v3 Plan", "P1 v3 App", "EU West", "1 Hour", 223000, "Microsoft.Web"),
    ("Log Analytics", "Analytics Logs", "Pay-as-you-go Data Ingestion", "EU West", "1 GB", 2990000,
     "Microsoft.OperationalInsights"),
    ("Azure Monitor", "Azure Monitor", "Basic Logs Data Ingestion", "EU West", "1 GB", 650000, "microsoft.insights"),
    ("Key Vault", "Key Vault", "Operations", "EU West", "10K", 30000, "Microsoft.KeyVault"),
    ("Azure Kubernetes Service", "Standard", "Uptime SLA", "EU West", "1 Hour", 100000,
     "Microsoft.ContainerService"),
    ("Backup", "Backup", "Protected Instances", "EU West", "1/Month", 10000000, "Microsoft.RecoveryServices"),
)  # fmt: skip
COUNTRIES = ("NL", "DE", "FR", "BE", "AT", "IE", "ES", "IT", "FI", "PT")
CASE_KINDS = (
    "qty_overbilled", "price_not_locked", "proration_wrong", "charge_after_cancel", "unknown_subscription",
    "charge_missing", "duplicate_line", "credit_missing", "credit_twice", "unbilled_vanished", "unbilled_changed",
    "usage_sum_off", "order_without_subscription", "subscription_without_order", "fx_rate_off", "usage_spike",
)  # fmt: skip


@dataclass
class Month:
    """What was generated: sizes, the unbilled pull days and row counts per table."""

    subscriptions: int
    customers: int
    azure_plans: int
    cases: int
    pulls: list[date] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def _money(cents: str) -> str:
    """Integer cents as DECIMAL(18,6), exactly (DECIMAL multiplication, never a division)."""
    return f"CAST(CAST({cents} AS DECIMAL(18,0)) * CAST(0.01 AS DECIMAL(3,2)) AS DECIMAL(18,6))"


def _values(rows: tuple[tuple[object, ...], ...]) -> str:
    def lit(v: object) -> str:
        return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"

    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def _setup(n: int, seed: int, customers: int, plans: int, cases: int) -> list[str]:
    """Macros and the small tables: products, customers, meters, Azure plans."""
    products = tuple((i, name, cents) for i, (name, cents) in enumerate(PRODUCTS))
    meters = tuple((i, *m) for i, m in enumerate(METERS))
    return [
        f"CREATE OR REPLACE TEMP MACRO h(i, tag) AS CAST(hash(i, {seed}, tag) % 1000000007 AS INTEGER)",
        "CREATE OR REPLACE TEMP MACRO addm(d, n) AS CAST(d + to_months(CAST(n AS INTEGER)) AS DATE)",
        "CREATE OR REPLACE TEMP MACRO mfloor(a, d) AS datediff('month', a, d) - CAST(day(a) > day(d) AS INTEGER)",
        "CREATE OR REPLACE TEMP MACRO guid(s) AS regexp_replace(md5(s), "
        "'^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\\1-\\2-\\3-\\4-\\5')",
        f"CREATE OR REPLACE TEMP MACRO code(s) AS upper(substr(md5(s || '{seed}'), 1, 12))",
        # price list: annual-term price per month in cents -> the plan's price per cycle on a date
        "CREATE OR REPLACE TEMP MACRO price(b, term, billing, d) AS CASE "
        "WHEN term = 'P1M' THEN b * 120 // 100 "
        "WHEN term = 'P1Y' AND billing = 'monthly' "
        "THEN CASE WHEN d >= DATE '2025-04-01' THEN b * 105 // 100 ELSE b END "
        "WHEN term = 'P1Y' THEN b * 12 "
        "WHEN billing = 'monthly' THEN CASE WHEN d >= DATE '2025-04-01' THEN b * 9975 // 10000 ELSE b * 95 // 100 END "
        "WHEN billing = 'annual' THEN b * 1140 // 100 ELSE b * 3420 // 100 END",
        "CREATE OR REPLACE TEMP TABLE g_products AS SELECT p, name, CAST(base AS BIGINT) AS base "
        f"FROM (VALUES {_values(products)}) v(p, name, base)",
        f"""CREATE OR REPLACE TEMP TABLE g_customers AS
        SELECT c, guid('customer' || c || '/{seed}') AS customer_id, name || ' ' || suffix AS customer_name,
               lower(replace(name, ' ', '')) || c || '.onmicrosoft.com' AS domain,
               CASE WHEN c = 0 THEN 'CH' ELSE ['{"', '".join(COUNTRIES)}'][1 + h(c, 'country') % {len(COUNTRIES)}]
               END AS country
        FROM (SELECT range AS c,
                     ['Blue', 'Rhine', 'Linden', 'Harbour', 'Summit', 'Cedar', 'Polder', 'Alpine', 'North Sea',
                      'Meridian'][1 + h(range, 'n1') % 10] || ' ' ||
                     ['Consulting', 'Logistics', 'Analytics', 'Retail', 'Health', 'Legal', 'Foods', 'Systems',
                      'Energy', 'Media'][1 + h(range, 'n2') % 10] AS name,
                     ['B.V.', 'GmbH', 'SAS', 'NV', 'Ltd', 'S.L.'][1 + h(range, 'n3') % 6] AS suffix
              FROM range({customers}))""",
        f"CREATE OR REPLACE TEMP TABLE g_meters AS SELECT * FROM (VALUES {_values(meters)}) "
        "v(m, category, sub_category, name, region, uom, price_micro, service)",
        f"""CREATE OR REPLACE TEMP TABLE g_plans AS
        SELECT range AS a, guid('azure' || range || '/{seed}') AS subscription_id, h(range, 'acust') % {customers} AS c,
               guid('entitlement' || range || '/{seed}') AS entitlement_id, code('azorder' || range) AS order_id,
               range < {cases} AS spike
        FROM range({plans})""",
        f"CREATE OR REPLACE TEMP TABLE g_n AS SELECT {n} AS n, {cases} AS cases",
    ]


def _subscriptions(n: int, seed: int, customers: int) -> str:
    """One row per seat subscription: plan, anchor, seat history and the events of October and November."""
    return f"""
CREATE OR REPLACE TEMP TABLE g_subs AS
WITH r AS (
    SELECT range AS i, h(range, 'cust') % {customers} AS c, h(range, 'prod') % {len(PRODUCTS)} AS p,
           h(range, 'plan') % 100 AS u_plan, h(range, 'month') % 37 - 1 AS m_back,
           h(range, 'align') % 100 AS u_align, h(range, 'day') % 28 AS u_day, h(range, 'seats') % 1000 AS u_seats,
           h(range, 'hist') % 100 AS u_hist, h(range, 'hday') AS u_hday, 1 + h(range, 'hq') % 10 AS hq_raw,
           h(range, 'ev') % 1000 AS u_ev, h(range, 'eday') AS u_eday, h(range, 'evq') AS u_evq,
           h(range, 'nov') % 1000 AS u_nov, h(range, 'nday') AS u_nday, 1 + h(range, 'nq') % 10 AS nq_raw,
           h(range, 'promo') % 100 AS u_promo, h(range, 'r00') % 2000 = 0 AS unexplained
    FROM range({n})
), plan AS (
    SELECT *,
        CASE WHEN u_plan < 25 THEN 'P1M' WHEN u_plan < 90 THEN 'P1Y' ELSE 'P3Y' END AS term,
        CASE WHEN u_plan < 70 THEN 'monthly' WHEN u_plan < 90 THEN 'annual' WHEN u_plan < 94 THEN 'monthly'
             WHEN u_plan < 97 THEN 'annual' ELSE 'triennial' END AS billing,
        CASE WHEN m_back < 0 THEN CASE WHEN u_align < 50 THEN 1 ELSE 1 + u_day % 10 END
             ELSE CASE WHEN u_align < 50 THEN 1 ELSE 1 + u_day END END AS anchor_day,
        CASE WHEN u_seats < 700 THEN 1 + u_seats % 25 WHEN u_seats < 950 THEN 25 + u_seats % 250
             ELSE 300 + (u_seats * 37) % 1700 END AS q0
    FROM r
), dated AS (
    SELECT *, CASE term WHEN 'P1M' THEN 1 WHEN 'P1Y' THEN 12 ELSE 36 END AS term_months,
        CASE billing WHEN 'monthly' THEN 1 WHEN 'annual' THEN 12 ELSE 36 END AS cycle_months,
        addm(DATE '2025-10-01', -m_back) + (anchor_day - 1) AS anchor
    FROM plan
), hist AS (
    SELECT *, u_hist < 15 AND anchor < DATE '2025-09-01' AS has_hist,
        anchor + 1 + CAST(u_hday % greatest(DATE '2025-09-30' - anchor - 1, 1) AS INTEGER) AS hd,
        make_date(2025, 10, anchor_day) AS cs_oct
    FROM dated
), pre AS (
    SELECT *, q0 + CASE WHEN has_hist THEN hq_raw ELSE 0 END AS q_pre,
        greatest(anchor, DATE '2025-10-01') AS lo_oct, greatest(anchor, DATE '2025-11-01') AS lo_nov
    FROM hist
), oct AS (
    SELECT *,
        CASE WHEN m_back < 0 THEN NULL WHEN u_ev < 80 THEN 'add'
             WHEN term = 'P1M' AND u_ev < 110 AND q_pre >= 2 THEN 'remove'
             WHEN term = 'P1M' AND u_ev < 120 THEN 'cancel' END AS ev_kind
    FROM pre
), ev AS (
    SELECT *,
        CASE WHEN ev_kind = 'add' THEN lo_oct + CAST(u_eday % (DATE '2025-10-31' - lo_oct + 1) AS INTEGER)
             WHEN ev_kind IS NOT NULL THEN least(cs_oct + CAST(u_eday % 7 AS INTEGER), DATE '2025-10-31') END AS e_oct,
        CASE ev_kind WHEN 'add' THEN 1 + u_evq % 20 WHEN 'remove' THEN 1 + u_evq % greatest(q_pre - 1, 1)
             WHEN 'cancel' THEN q_pre END AS d_oct,
        CASE WHEN u_nov < 30 AND ev_kind IS DISTINCT FROM 'cancel'
             THEN lo_nov + CAST(u_nday % (DATE '2025-11-10' - lo_nov + 1) AS INTEGER) END AS e_nov
    FROM oct
)
SELECT i, c, p, term, billing, term_months, cycle_months, anchor, anchor_day, q0, has_hist,
    CASE WHEN has_hist THEN hd END AS hd, CASE WHEN has_hist THEN hq_raw ELSE 0 END AS hq, q_pre,
    ev_kind, e_oct, d_oct, CASE ev_kind WHEN 'add' THEN d_oct WHEN 'remove' THEN -d_oct ELSE 0 END AS delta_oct,
    e_nov, CASE WHEN e_nov IS NOT NULL THEN nq_raw ELSE 0 END AS d_nov,
    term <> 'P1M' AND anchor >= DATE '2025-01-01' AND u_promo < 5 AS promo, unexplained,
    guid('subscription' || i || '/{seed}') AS subscription_id, code('order' || i) AS order_id,
    mfloor(anchor, DATE '2025-11-10') // term_months AS terms_done
FROM ev
"""


def _seats(at: str) -> str:
    """Seats of subscription `s` in force on day `at`: events before it (a same-day change comes after)."""
    return (
        f"(s.q0 + CASE WHEN s.has_hist AND s.hd < {at} THEN s.hq ELSE 0 END"
        f" + CASE WHEN s.e_oct < {at} THEN s.delta_oct ELSE 0 END"
        f" + CASE WHEN s.e_nov < {at} THEN s.d_nov ELSE 0 END)"
    )


def _orders() -> str:
    """Order lines: purchase, renewals, history add, October event, November add."""
    renew_date = "addm(s.anchor, t.t * s.term_months)"
    return f"""
CREATE OR REPLACE TEMP TABLE g_orders AS
SELECT s.i, s.order_id, 'new' AS transaction_type, s.anchor AS order_date,
    CAST(s.anchor AS TIMESTAMP) + to_seconds(32400 + s.i % 7200) AS ordered_at, s.q0 AS quantity,
    price(pr.base, s.term, s.billing, s.anchor) AS list_cents, CASE WHEN s.promo THEN 9 ELSE 10 END AS tenths
FROM g_subs s JOIN g_products pr USING (p)
UNION ALL
SELECT s.i, code('renew' || s.i || '/' || t.t), 'renew', {renew_date},
    CAST({renew_date} AS TIMESTAMP) + to_seconds(300), {_seats(renew_date)},
    price(pr.base, s.term, s.billing, {renew_date}), 10
FROM g_subs s JOIN g_products pr USING (p) JOIN range(1, 4) t(t) ON t.t <= s.terms_done
WHERE s.term <> 'P1M'
UNION ALL
SELECT s.i, code('hist' || s.i), 'addQuantity', s.hd, CAST(s.hd AS TIMESTAMP) + to_seconds(43200), s.hq, 0, 10
FROM g_subs s WHERE s.has_hist
UNION ALL
SELECT s.i, code('oct' || s.i),
    CASE s.ev_kind WHEN 'add' THEN 'addQuantity' WHEN 'remove' THEN 'removeQuantity' ELSE 'cancel' END,
    s.e_oct, CAST(s.e_oct AS TIMESTAMP) + to_seconds(46800), s.d_oct, 0, 10
FROM g_subs s WHERE s.ev_kind IS NOT NULL
UNION ALL
SELECT s.i, code('nov' || s.i), 'addQuantity', s.e_nov, CAST(s.e_nov AS TIMESTAMP) + to_seconds(50400), s.d_nov,
    0, 10
FROM g_subs s WHERE s.e_nov IS NOT NULL
"""


def _term_price(at_term: str) -> str:
    """(list cents, tenths after promotion, order id) of the term `at_term` of subscription `s`."""
    start = f"addm(s.anchor, {at_term} * s.term_months)"
    renewed = f"s.term <> 'P1M' AND {at_term} >= 1"
    return (
        f"CASE WHEN {renewed} THEN price(pr.base, s.term, s.billing, {start}) "
        f"ELSE price(pr.base, s.term, s.billing, s.anchor) END AS list_cents, "
        f"CASE WHEN {renewed} OR NOT s.promo THEN 10 ELSE 9 END AS tenths, "
        f"CASE WHEN {renewed} THEN code('renew' || s.i || '/' || {at_term}) ELSE s.order_id END AS term_order_id, "
        f"{start} AS term_start, addm(s.anchor, ({at_term} + 1) * s.term_months) - 1 AS term_end"
    )


def _lines() -> str:
    """Expected license lines of October and November 1-10 (before any seeded discrepancy)."""
    cycle_k = "datediff('month', s.anchor, cs)"
    days = (
        "CASE WHEN s.cycle_months = 1 THEN day(last_day(addm(s.anchor, s.km))) "
        "ELSE addm(s.anchor, s.km + s.cycle_months) - addm(s.anchor, s.km) END AS cycle_days"
    )
    return f"""
CREATE OR REPLACE TEMP TABLE g_lic AS
WITH cyc AS (
    SELECT s.*, make_date(year(m.mstart), month(m.mstart), s.anchor_day) AS cs
    FROM g_subs s CROSS JOIN (VALUES (DATE '2025-10-01'), (DATE '2025-11-01')) m(mstart)
), cycles AS (
    SELECT s.*, {cycle_k} AS km FROM cyc s
    WHERE s.cs >= s.anchor AND s.cs <= DATE '2025-11-10' AND {cycle_k} % s.cycle_months = 0
      AND NOT (s.ev_kind IS NOT DISTINCT FROM 'cancel' AND s.e_oct < s.cs)
), changes AS (
    SELECT s.*, e.e, e.kind, e.delta, e.event_order_id,
        mfloor(s.anchor, e.e) // s.cycle_months * s.cycle_months AS km
    FROM g_subs s JOIN (
        SELECT i, e_oct AS e, ev_kind AS kind, delta_oct AS delta, code('oct' || i) AS event_order_id
        FROM g_subs WHERE ev_kind IS NOT NULL
        UNION ALL
        SELECT i, e_nov, 'add', d_nov, code('nov' || i) FROM g_subs WHERE e_nov IS NOT NULL
    ) e USING (i)
), lines AS (
    SELECT s.i, s.cs AS order_date,
        CASE WHEN s.km = 0 THEN 'new' WHEN s.km % s.term_months = 0 THEN 'renew' ELSE 'cycleCharge' END AS charge_type,
        s.cs AS charge_start, addm(s.anchor, s.km + s.cycle_months) - 1 AS charge_end, 1 AS sign,
        {_seats("s.cs")} AS qty, {_term_price("s.km // s.term_months")}, NULL AS event_order_id, {days}
    FROM cycles s JOIN g_products pr USING (p)
    UNION ALL
    SELECT s.i, s.e,
        CASE s.kind WHEN 'add' THEN 'addQuantity' WHEN 'remove' THEN 'removeQuantity' ELSE 'cancelImmediate' END,
        s.e, addm(s.anchor, s.km + s.cycle_months) - 1, sg.sign,
        {_seats("s.e")} + CASE WHEN sg.sign = 1 THEN s.delta ELSE 0 END,
        {_term_price("s.km // s.term_months")}, s.event_order_id, {days}
    FROM changes s JOIN g_products pr USING (p)
    JOIN (VALUES (-1), (1)) sg(sign) ON sg.sign = -1 OR s.kind <> 'cancel'
)
SELECT *, charge_end - charge_start + 1 AS billing_days,
    CAST(date_trunc('month', order_date) AS DATE) AS month
FROM lines WHERE qty > 0
"""


def _cases(cases: int) -> str:
    """Which lines and subscriptions carry a seeded discrepancy (disjoint blocks of a hash order)."""
    on_cycles = (*CASE_KINDS[:2], "charge_missing", "duplicate_line", "fx_rate_off", "unbilled_vanished")
    on_cycles += ("unbilled_changed", "unknown_subscription")
    on_adds = ("proration_wrong", "credit_missing", "credit_twice")

    def block(kinds: tuple[str, ...], eligible: str, tag: str) -> str:
        names = "['" + "', '".join(kinds) + "']"
        return (
            f"SELECT i, {names}[1 + r // {cases}] AS kind "
            f"FROM (SELECT i, row_number() OVER (ORDER BY h(i, '{tag}')) - 1"
            f" AS r FROM ({eligible})) WHERE r < {len(kinds) * cases}"
        )

    cycles = (
        "SELECT DISTINCT l.i FROM g_lic l JOIN g_subs s USING (i) WHERE l.month = DATE '2025-10-01' "
        "AND l.charge_type IN ('cycleCharge', 'renew') AND NOT s.unexplained AND s.ev_kind IS NULL "
        "AND s.e_nov IS NULL AND s.billing = 'monthly'"
    )
    adds = "SELECT i FROM g_subs s WHERE s.ev_kind = 'add' AND NOT s.unexplained AND s.e_nov IS NULL"
    cancels = "SELECT i FROM g_subs s WHERE s.ev_kind = 'cancel' AND NOT s.unexplained"
    orphans = "SELECT i FROM g_subs s WHERE NOT s.unexplained"
    return f"""
CREATE OR REPLACE TEMP TABLE g_cases AS
{block(on_cycles, cycles, "c1")}
UNION ALL {block(on_adds, adds, "c2")}
UNION ALL {block(("charge_after_cancel",), cancels, "c3")}
UNION ALL {block(("subscription_without_order",), orphans, "c4")}
"""


def _base(seed: int) -> str:
    """Every license line with its recon columns and seeded discrepancies, numbered in its month by order date."""
    per_seat = "(l.bill_cents * l.tenths * l.billing_days) // (10 * l.cycle_days)"
    return f"""
CREATE OR REPLACE TEMP TABLE g_base AS
WITH marked AS (
    SELECT l.*, c.kind,
        CASE WHEN c.kind = 'price_not_locked' THEN l.list_cents * 110 // 100 ELSE l.list_cents END AS bill_cents,
        l.qty + CASE WHEN c.kind = 'qty_overbilled' THEN 2 ELSE 0 END AS bill_qty, 0 AS copy
    FROM g_lic l
    LEFT JOIN g_cases c ON c.i = l.i AND l.month = DATE '2025-10-01' AND (
        (c.kind IN ('qty_overbilled', 'price_not_locked', 'charge_missing', 'duplicate_line', 'fx_rate_off',
                    'unbilled_vanished', 'unbilled_changed', 'unknown_subscription')
         AND l.charge_type IN ('cycleCharge', 'renew'))
        OR (c.kind = 'proration_wrong' AND l.charge_type = 'addQuantity' AND l.sign = 1)
        OR (c.kind IN ('credit_missing', 'credit_twice') AND l.charge_type = 'addQuantity' AND l.sign = -1)
        OR (c.kind = 'charge_after_cancel' AND l.charge_type = 'cancelImmediate'))
), extra AS (
    SELECT * REPLACE (1 AS copy) FROM marked WHERE kind IN ('duplicate_line', 'credit_twice')
    UNION ALL
    SELECT * REPLACE ('cycleCharge' AS charge_type, 1 AS sign, 2 AS copy) FROM marked
    WHERE kind = 'charge_after_cancel'
    UNION ALL
    SELECT * REPLACE (3 AS copy) FROM marked WHERE kind = 'unknown_subscription'
), kept AS (
    SELECT * REPLACE (CASE WHEN kind IN ('charge_after_cancel', 'unknown_subscription') THEN NULL ELSE kind END
                      AS kind)
    FROM marked WHERE kind IS NULL OR kind NOT IN ('charge_missing', 'credit_missing')
    UNION ALL SELECT * FROM extra
), priced AS (
    SELECT l.*, {per_seat} * l.bill_qty * l.sign
        + CASE WHEN l.kind = 'proration_wrong' THEN 500 + 5 * l.bill_qty ELSE 0 END AS sub_cents,
        l.sign * (CAST(l.bill_cents AS HUGEINT) * l.tenths * l.billing_days * 1000000000000) // l.cycle_days AS eup_e15
    FROM kept l
)
SELECT p.month, p.order_date, p.i, p.kind,
    row_number() OVER (PARTITION BY p.month ORDER BY p.order_date, s.c, p.i, p.charge_type, p.sign DESC, p.copy) AS pos,
    CASE WHEN p.kind = 'unknown_subscription' THEN guid('unknown' || p.i || '/{seed}') ELSE s.subscription_id END
        AS subscription_id,
    cu.customer_id, cu.customer_name, cu.domain AS customer_domain_name, cu.country AS customer_country,
    coalesce(p.event_order_id, p.term_order_id) AS order_id, CAST(p.order_date AS TIMESTAMP) AS order_ts,
    code('product' || s.p) AS product_id, CASE WHEN s.term = 'P1M' THEN '0002' ELSE '0001' END AS sku_id,
    code('availability' || s.p || s.term || s.billing) AS availability_id, pr.name AS product_name,
    p.charge_type, CAST(CAST(p.bill_cents AS DECIMAL(18,0)) * CAST(0.01 AS DECIMAL(3,2)) AS DECIMAL(38,15))
        AS unit_price,
    CAST(CAST(p.eup_e15 AS DECIMAL(38,0)) * CAST('0.000000000000001' AS DECIMAL(38,15)) AS DECIMAL(38,15))
        AS effective_unit_price,
    CAST(p.bill_qty AS DECIMAL(18,6)) AS quantity, p.sub_cents,
    CASE WHEN p.sub_cents < 0 THEN -1 ELSE 1 END * (abs(p.sub_cents) * 21 // 100) AS tax_cents,
    CAST(p.term_start AS TIMESTAMP) AS subscription_start_date, CAST(p.term_end AS TIMESTAMP) AS subscription_end_date,
    p.charge_start, p.charge_end,
    CASE s.term WHEN 'P1M' THEN 'One-Month' WHEN 'P1Y' THEN 'One-Year' ELSE 'Three-Year' END || ' commitment for '
        || CASE s.billing WHEN 'annual' THEN 'yearly' ELSE s.billing END || ' billing' AS term_and_billing_cycle,
    guid('reference' || p.i || p.charge_type || p.charge_start) AS reference_id,
    CASE WHEN p.tenths = 9 THEN '["10.0% Promotion"]' ELSE '[]' END AS price_adjustment_description,
    CASE WHEN p.kind = 'fx_rate_off' THEN CAST('1.000123000' AS DECIMAL(18,9)) ELSE CAST(1 AS DECIMAL(18,9)) END
        AS rate,
    CASE WHEN p.tenths = 9 THEN '39NFJQT1X27N:0002:39NFJQT1Q5KL' ELSE '' END AS promotion_id,
    CASE WHEN s.billing = 'monthly' THEN 'Monthly' ELSE '' END AS billing_frequency
FROM priced p JOIN g_subs s USING (i) JOIN g_customers cu ON cu.c = s.c JOIN g_products pr ON pr.p = s.p
"""


PARTNER = "5e503008-7260-4e73-bbb0-40593c4a94ca"


def _line_columns(cents: str) -> str:
    """The recon columns of a `g_base` row `b` whose subtotal is `cents` (shared by billed and unbilled lines)."""
    tax = f"(CASE WHEN {cents} < 0 THEN -1 ELSE 1 END * (abs({cents}) * 21 // 100))"
    return f"""'{PARTNER}' AS partner_id, b.customer_id, b.customer_name, b.customer_domain_name, b.customer_country,
    '4841109' AS mpn_id, '0' AS reseller_mpn_id, b.order_id, b.order_ts AS order_date, b.product_id, b.sku_id,
    b.availability_id, b.product_name, b.product_name AS sku_name, '[]' AS product_qualifiers, b.charge_type,
    b.unit_price, b.effective_unit_price, '' AS unit_type, b.quantity, {_money(cents)} AS subtotal,
    {_money(tax)} AS tax_total, {_money(f"{cents} + {tax}")} AS total_for_customer, 'EUR' AS currency,
    'Microsoft Corporation' AS publisher_name, '' AS publisher_id, b.product_name AS subscription_description,
    b.subscription_id, b.subscription_start_date, b.subscription_end_date, b.charge_start, b.charge_end,
    b.term_and_billing_cycle, b.order_id AS alternate_id, b.reference_id, b.price_adjustment_description,
    '' AS discount_details, 'EUR' AS pricing_currency, b.rate AS pc_to_bc_exchange_rate,
    CAST(b.month AS TIMESTAMP) AS pc_to_bc_exchange_rate_date, b.quantity AS billable_quantity,
    '' AS meter_description, '' AS reservation_order_id, '' AS credit_reason_code, b.promotion_id"""


def _key(pos: str) -> str:
    return (
        f"CAST(({pos} - 1) // {PAGE} + 1 AS INTEGER) AS page_no, CAST(({pos} - 1) % {PAGE} + 1 AS INTEGER) AS line_no"
    )


def _license_inserts() -> list[str]:
    """Billed license lines of the invoice, then every unbilled snapshot (the lines dated up to its pull day)."""
    billed = f"""
INSERT INTO stg.recon_lines BY NAME
SELECT 'recon-billed' AS dataset, '{INVOICE}' AS unit, {_key("b.pos")}, 'billed' AS billing_state,
    TIMESTAMPTZ '2025-11-10 12:00:00+00' AS snapshot_at, b.month AS period, '{INVOICE}' AS invoice_number,
    b.billing_frequency, {_line_columns("b.sub_cents")}
FROM g_base b WHERE b.month = DATE '2025-10-01'"""
    changed = "CASE WHEN p.last_closed AND b.kind = 'unbilled_changed' THEN b.sub_cents + 1234 ELSE b.sub_cents END"
    unbilled = f"""
INSERT INTO stg.recon_lines BY NAME
SELECT 'recon-unbilled' AS dataset, p.unit, {_key("b.pos")}, 'unbilled' AS billing_state, p.as_of AS snapshot_at,
    p.month AS period, '' AS billing_frequency, {_line_columns(changed)}
FROM g_pulls p JOIN g_base b ON b.month = p.month AND b.order_date <= p.pull_date
UNION ALL
SELECT 'recon-unbilled', p.unit, {_key("p.n_lic + row_number() OVER (ORDER BY b.pos)")}, 'unbilled', p.as_of,
    p.month, '', {_line_columns("b.sub_cents")}
FROM g_pulls p JOIN g_base b ON b.month = p.month AND b.kind = 'unbilled_vanished'
WHERE p.last_closed"""
    credit = (
        _line_columns("-(b.sub_cents // 4)")
        .replace("b.charge_type,", "'customerCredit' AS charge_type,")
        .replace("'' AS credit_reason_code", "'Service level agreement credit' AS credit_reason_code")
        .replace(
            "b.price_adjustment_description",
            "'[\"25.00% service level agreement credit\"]' AS price_adjustment_description",
        )
    )
    notes = f"""
INSERT INTO stg.recon_lines BY NAME
SELECT 'recon-billed' AS dataset, '{CREDIT_NOTE}' AS unit, {_key("row_number() OVER (ORDER BY b.pos)")},
    'billed' AS billing_state, TIMESTAMPTZ '2025-11-10 12:00:00+00' AS snapshot_at, b.month AS period,
    '{CREDIT_NOTE}' AS invoice_number, b.billing_frequency,
    {credit}
FROM g_base b JOIN g_subs s USING (i)
WHERE b.month = DATE '2025-10-01' AND b.charge_type = 'cycleCharge' AND b.kind IS NULL AND h(b.i, 'sla') % 20000 = 1"""
    return [billed, unbilled, notes]


def _usage() -> list[str]:
    """Daily rated usage of the Azure plans (October billed, November 1-9 unbilled) and their consumption lines."""
    daily = f"""
CREATE OR REPLACE TEMP TABLE g_usage AS
SELECT pl.a, j.j, pl.subscription_id, pl.c, pl.entitlement_id, pl.order_id, m.*, d.day,
    CAST(date_trunc('month', d.day) AS DATE) AS month,
    (500 + h(pl.a * 16 + j.j, 'ubase') % 20000) * (85 + CAST(hash(pl.a, j.j, d.day, 'uday') % 31 AS BIGINT)) // 100
        * CASE WHEN pl.spike AND j.j = 0 AND d.day = DATE '2025-10-25' THEN 10 ELSE 1 END AS cents
FROM g_plans pl CROSS JOIN range(8) j(j) JOIN g_meters m ON m.m = (h(pl.a, 'meter') + j.j) % {len(METERS)}
CROSS JOIN (SELECT CAST(range AS DATE) AS day FROM range(DATE '2025-10-01', DATE '2025-11-10', INTERVAL 1 DAY)) d
"""
    rate = (
        "CASE WHEN u.month = DATE '2025-10-01' THEN CAST('{0}' AS DECIMAL(18,9)) ELSE CAST('{1}' AS DECIMAL(18,9)) END"
    )
    rate = rate.format(RATE_USD[CLOSED], RATE_USD[OPEN])
    billed = "u.month = DATE '2025-10-01'"
    rows = f"""
INSERT INTO stg.usage_lines BY NAME
SELECT CASE WHEN {billed} THEN 'usage-billed' ELSE 'usage-unbilled' END AS dataset,
    CASE WHEN {billed} THEN '{INVOICE}' ELSE 'EUR/current@2025-11-10T12:00:00Z' END AS unit,
    {_key("row_number() OVER (PARTITION BY u.month ORDER BY u.day, u.a, u.j)")},
    CASE WHEN {billed} THEN 'billed' ELSE 'unbilled' END AS billing_state,
    TIMESTAMPTZ '2025-11-10 12:00:00+00' AS snapshot_at, u.month AS period, '{PARTNER}' AS partner_id,
    'Contoso Cloud Partner B.V.' AS partner_name, cu.customer_id, cu.customer_name,
    cu.domain AS customer_domain_name, cu.country AS customer_country, '4841109' AS mpn_id, '' AS reseller_mpn_id,
    CASE WHEN {billed} THEN '{INVOICE}' END AS invoice_number, 'DZH318Z0BCZC' AS product_id, '0001' AS sku_id,
    '615HLHVB8Q28' AS availability_id, 'Azure plan' AS sku_name, 'Azure plan' AS product_name,
    'Microsoft Corporation' AS publisher_name, '' AS publisher_id, u.subscription_id,
    'Azure plan' AS subscription_description, u.month AS charge_start, CAST(last_day(u.day) AS DATE) AS charge_end,
    u.day AS usage_date, 'Consumption' AS meter_type, u.category AS meter_category,
    guid('meter' || u.m) AS meter_id, u.sub_category AS meter_sub_category, u.name AS meter_name,
    u.region AS meter_region, u.uom AS unit_of_measure, 'westeurope' AS resource_location,
    u.service AS consumed_service, 'rg-app-' || (u.a % 7) AS resource_group,
    '/subscriptions/' || u.entitlement_id || '/resourceGroups/rg-app-' || (u.a % 7) || '/providers/'
        || u.service || '/res' || u.j AS resource_uri,
    '{{"env":"prod","costCenter":"CC' || (1000 + u.c % 9000) || '"}}' AS tags, '' AS additional_info,
    '' AS service_info1, '' AS service_info2, 'new' AS charge_type,
    CAST(CAST(u.price_micro AS DECIMAL(18,0)) * CAST('0.000001' AS DECIMAL(7,6)) AS DECIMAL(38,15)) AS unit_price,
    CAST(CAST(u.cents * 10000000000 // u.price_micro AS DECIMAL(18,0)) * CAST('0.000001' AS DECIMAL(7,6))
        AS DECIMAL(18,6)) AS quantity, u.uom AS unit_type, {_money("u.cents")} AS billing_pre_tax_total,
    'EUR' AS billing_currency, {_money("u.cents * 1000000000 // CAST(" + rate + " * 1000000000 AS BIGINT)")}
        AS pricing_pre_tax_total, 'USD' AS pricing_currency, u.entitlement_id,
    'Production' AS entitlement_description, {rate} AS pc_to_bc_exchange_rate,
    CAST(u.month AS TIMESTAMP) AS pc_to_bc_exchange_rate_date,
    CAST(CAST(u.price_micro * 85 AS DECIMAL(18,0)) * CAST('0.00000001' AS DECIMAL(9,8)) AS DECIMAL(38,15))
        AS effective_unit_price,
    'true' AS has_partner_earned_credit, 'Partner Earned Credit Applied' AS credit_type, '' AS benefit_order_id,
    '' AS benefit_id, '' AS benefit_type, CAST('0.15' AS DECIMAL(18,9)) AS rate_of_partner_earned_credit,
    CAST(0 AS DECIMAL(18,9)) AS rate_of_credit
FROM g_usage u JOIN g_customers cu ON cu.c = u.c
"""
    return [daily, rows]


def _consumption_lines(cases: int) -> list[str]:
    """Consumption recon lines per plan and meter: October on the invoice, month-to-date in each snapshot."""
    rate = RATE_USD
    meter = "u.category || ' - ' || u.name || ' - ' || u.region"
    agg = f"""
CREATE OR REPLACE TEMP TABLE g_cons AS
SELECT 'billed' AS state, NULL::DATE AS pull_date, u.month, u.a, u.j, any_value(u.subscription_id) AS subscription_id,
    any_value(u.c) AS c, any_value(u.order_id) AS order_id, any_value({meter}) AS meter,
    any_value(u.price_micro) AS price_micro, count(*) AS days,
    sum(u.cents) + h(u.a * 16 + u.j, 'round') % 10 + CASE WHEN u.a >= {cases} AND u.a < {2 * cases} AND u.j = 0
        THEN 2500 ELSE 0 END AS cents,
    sum(u.cents * 10000000000 // u.price_micro) AS qty_micro
FROM g_usage u WHERE u.month = DATE '2025-10-01' GROUP BY u.month, u.a, u.j
UNION ALL
SELECT 'unbilled', p.pull_date, u.month, u.a, u.j, any_value(u.subscription_id), any_value(u.c),
    any_value(u.order_id), any_value({meter}), any_value(u.price_micro), count(*), sum(u.cents),
    sum(u.cents * 10000000000 // u.price_micro)
FROM g_pulls p JOIN g_usage u ON u.month = p.month AND u.day < p.pull_date GROUP BY p.pull_date, u.month, u.a, u.j
"""
    tax = "(c.cents * 21 // 100)"
    rate_expr = (
        f"CASE WHEN c.month = DATE '2025-10-01' THEN CAST('{rate[CLOSED]}' AS DECIMAL(18,9)) "
        f"ELSE CAST('{rate[OPEN]}' AS DECIMAL(18,9)) END"
    )
    position = (
        "coalesce(p.n_lic + p.n_vanished, n.n_billed) "
        "+ row_number() OVER (PARTITION BY c.state, c.pull_date ORDER BY c.a, c.j)"
    )
    insert = f"""
INSERT INTO stg.recon_lines BY NAME
SELECT CASE WHEN c.state = 'billed' THEN 'recon-billed' ELSE 'recon-unbilled' END AS dataset,
    coalesce(p.unit, '{INVOICE}') AS unit,
    {_key(position)},
    c.state AS billing_state, coalesce(p.as_of, TIMESTAMPTZ '2025-11-10 12:00:00+00') AS snapshot_at,
    c.month AS period, '{PARTNER}' AS partner_id, cu.customer_id, cu.customer_name,
    cu.domain AS customer_domain_name, cu.country AS customer_country,
    CASE WHEN c.state = 'billed' THEN '{INVOICE}' END AS invoice_number, '4841109' AS mpn_id, '0' AS reseller_mpn_id,
    c.order_id, CAST(c.month AS TIMESTAMP) AS order_date, 'DZH318Z0BCZC' AS product_id, '0001' AS sku_id,
    '615HLHVB8Q28' AS availability_id, 'Azure plan' AS product_name, 'Azure plan' AS sku_name,
    '[]' AS product_qualifiers, 'new' AS charge_type,
    CAST(CAST(c.price_micro AS DECIMAL(18,0)) * CAST('0.000001' AS DECIMAL(7,6)) AS DECIMAL(38,15)) AS unit_price,
    CAST(CAST(c.price_micro * 85 AS DECIMAL(18,0)) * CAST('0.00000001' AS DECIMAL(9,8)) AS DECIMAL(38,15))
        AS effective_unit_price,
    '' AS unit_type, CAST(1 AS DECIMAL(18,6)) AS quantity, {_money("c.cents")} AS subtotal, {_money(tax)} AS tax_total,
    {_money(f"c.cents + {tax}")} AS total_for_customer, 'EUR' AS currency, 'Microsoft Corporation' AS publisher_name,
    '' AS publisher_id, 'Azure plan' AS subscription_description, c.subscription_id,
    TIMESTAMP '2024-01-01 00:00:00' AS subscription_start_date,
    TIMESTAMP '2099-12-31 00:00:00' AS subscription_end_date,
    c.month AS charge_start, CAST(last_day(c.month) AS DATE) AS charge_end, '' AS term_and_billing_cycle,
    c.order_id AS alternate_id, guid('consumption' || c.a || '/' || c.j || '/' || c.month) AS reference_id,
    '["15.0% Partner earned credit for services managed"]' AS price_adjustment_description, '' AS discount_details,
    'USD' AS pricing_currency, {rate_expr} AS pc_to_bc_exchange_rate,
    CAST(c.month AS TIMESTAMP) AS pc_to_bc_exchange_rate_date,
    CAST(CAST(c.qty_micro AS DECIMAL(18,0)) * CAST('0.000001' AS DECIMAL(7,6)) AS DECIMAL(18,6)) AS billable_quantity,
    c.meter AS meter_description, CASE WHEN c.state = 'billed' THEN 'Monthly' ELSE '' END AS billing_frequency,
    '' AS reservation_order_id, '' AS credit_reason_code, '' AS promotion_id
FROM g_cons c JOIN g_customers cu ON cu.c = c.c
LEFT JOIN g_pulls p ON p.pull_date = c.pull_date
CROSS JOIN (SELECT count(*) AS n_billed FROM g_base WHERE month = DATE '2025-10-01') n
"""
    return [agg, insert]


def _commerce(seed: int, cases: int) -> list[str]:
    """stg.customers, stg.subscriptions and stg.orders as of 2025-11-10 (with the R00 and R11 cases)."""
    as_of = "TIMESTAMPTZ '2025-11-10 12:00:00+00'"
    customers = f"""
INSERT INTO stg.customers BY NAME
SELECT customer_id, customer_id AS tenant_id, domain, customer_name AS company_name, country,
    'reseller' AS relationship_to_partner, {as_of} AS snapshot_at
FROM g_customers"""
    current = "mfloor(s.anchor, DATE '2025-11-10') // s.term_months * s.term_months"
    subscriptions = f"""
INSERT INTO stg.subscriptions BY NAME
SELECT s.subscription_id, cu.customer_id,
    CASE WHEN c.kind IS NOT NULL THEN code('lost' || s.i) ELSE s.order_id END AS order_id,
    code('product' || s.p) AS product_id, CASE WHEN s.term = 'P1M' THEN '0002' ELSE '0001' END AS sku_id,
    code('availability' || s.p || s.term || s.billing) AS availability_id, pr.name AS product_name,
    CAST(s.q_pre + s.delta_oct + s.d_nov + CASE WHEN s.unexplained THEN 3 ELSE 0 END AS DECIMAL(18,6)) AS quantity,
    CASE WHEN s.ev_kind = 'cancel' THEN 'deleted' ELSE 'active' END AS status, s.term, s.billing,
    addm(s.anchor, {current}) AS term_start, addm(s.anchor, {current} + s.term_months) - 1 AS term_end,
    NULL::DATE AS cancelled_on, true AS auto_renew, addm(s.anchor, {current}) + 7 AS cancellation_allowed_until,
    CASE WHEN s.promo THEN '39NFJQT1X27N:0002:39NFJQT1Q5KL' END AS promotion_id, {as_of} AS snapshot_at
FROM g_subs s JOIN g_customers cu ON cu.c = s.c JOIN g_products pr ON pr.p = s.p
LEFT JOIN g_cases c ON c.i = s.i AND c.kind = 'subscription_without_order'"""
    orders = f"""
INSERT INTO stg.orders BY NAME
SELECT o.order_id, cu.customer_id, 0 AS line_number, s.subscription_id, o.transaction_type, o.order_date,
    o.ordered_at, CAST(o.quantity AS DECIMAL(18,6)) AS quantity,
    CAST(CAST(o.list_cents AS DECIMAL(18,0)) * CAST(0.01 AS DECIMAL(3,2)) AS DECIMAL(38,15)) AS list_price,
    CAST(CAST(o.list_cents * o.tenths AS DECIMAL(18,0)) * CAST(0.001 AS DECIMAL(4,3)) AS DECIMAL(38,15))
        AS unit_price,
    'EUR' AS pricing_currency, code('product' || s.p) AS product_id,
    CASE WHEN s.term = 'P1M' THEN '0002' ELSE '0001' END AS sku_id,
    code('availability' || s.p || s.term || s.billing) AS availability_id, s.term, s.billing,
    CASE WHEN o.tenths = 9 THEN '39NFJQT1X27N:0002:39NFJQT1Q5KL' END AS promotion_id, 'completed' AS status,
    {as_of} AS snapshot_at
FROM g_orders o JOIN g_subs s USING (i) JOIN g_customers cu ON cu.c = s.c
UNION ALL
SELECT code('orphan' || range), cu.customer_id, 0, guid('orphan' || range || '/{seed}'), 'new', DATE '2025-10-14',
    TIMESTAMP '2025-10-14 10:00:00', CAST(5 AS DECIMAL(18,6)), CAST(12.3 AS DECIMAL(38,15)),
    CAST(12.3 AS DECIMAL(38,15)), 'EUR', code('product0'), '0001', code('availability0P1Ymonthly'), 'P1Y',
    'monthly', NULL, 'completed', {as_of}
FROM range({cases}) JOIN g_customers cu ON cu.c = range % (SELECT count(*) FROM g_customers)"""
    return [customers, subscriptions, orders]


def _documents() -> list[str]:
    """stg.invoices (the invoice's total is off by 250.00: R09), the summary, and every unit's meta.loads row."""
    total = "(SELECT sum(total_for_customer) FROM stg.recon_lines WHERE unit = '{0}' AND billing_state = 'billed')"
    invoices = f"""
INSERT INTO stg.invoices BY NAME
SELECT * FROM (VALUES
    ('{INVOICE}', DATE '2025-11-08', 'invoice', NULL, {total.format(INVOICE)} + CAST(250 AS DECIMAL(18,6))),
    ('{CREDIT_NOTE}', DATE '2025-11-09', 'adjustment_note', '{INVOICE}', {total.format(CREDIT_NOTE)})
) v(invoice_number, invoice_date, document_type, amends_of, total_charges)
CROSS JOIN (SELECT DATE '2025-10-01' AS period, DATE '2025-10-01' AS period_start, DATE '2025-10-31' AS period_end,
    CAST(0 AS DECIMAL(18,6)) AS paid_amount, 'EUR' AS currency, 'OneTime' AS invoice_type, 'active' AS status,
    1 AS detail_count, TIMESTAMPTZ '2025-11-10 12:00:00+00' AS as_of)"""
    summary = """
INSERT INTO stg.invoice_summaries BY NAME
SELECT 'EUR' AS currency, sum(total_charges) AS balance_amount, DATE '2025-11-10' AS accounting_date,
    TIMESTAMP '2023-09-08 00:00:00' AS first_invoice_creation_date,
    TIMESTAMP '2025-10-20 00:00:00' AS last_payment_date,
    CAST(0 AS DECIMAL(18,6)) AS last_payment_amount, TIMESTAMP '2025-11-09 00:00:00' AS latest_invoice_date,
    TIMESTAMPTZ '2025-11-10 12:00:00+00' AS as_of
FROM stg.invoices"""
    loads = """
INSERT INTO meta.loads (load_id, dataset, unit, api, params, status, started_at, finished_at, as_of, pages, rows)
SELECT md5(dataset || unit), dataset, unit, 'v1', NULL, 'complete', as_of, as_of + INTERVAL 1 MINUTE, as_of,
    CAST(max(page_no) AS INTEGER), count(*)
FROM (
    SELECT dataset, unit, snapshot_at AS as_of, page_no FROM stg.recon_lines
    UNION ALL SELECT dataset, unit, snapshot_at, page_no FROM stg.usage_lines
    UNION ALL SELECT 'invoices', invoice_number, as_of, 1 FROM stg.invoices
    UNION ALL SELECT 'invoice-summaries', 'summaries@2025-11-10', as_of, 1 FROM stg.invoice_summaries
    UNION ALL SELECT 'customers', 'customers@2025-11-10', snapshot_at, 1 FROM stg.customers
    UNION ALL SELECT 'subscriptions', 'subscriptions@2025-11-10', snapshot_at, 1 FROM stg.subscriptions
    UNION ALL SELECT 'orders', 'orders@2025-11-10', snapshot_at, 1 FROM stg.orders
) GROUP BY dataset, unit, as_of"""
    return [invoices, summary, loads]


PRIORITY = (  # unbilled pull days after the last day of the closed month and the as-of day, most wanted first
    date(2025, 10, 10), date(2025, 10, 20), date(2025, 11, 5), date(2025, 10, 5), date(2025, 10, 15),
    date(2025, 10, 25), date(2025, 10, 3), date(2025, 10, 8), date(2025, 10, 13), date(2025, 10, 18),
    date(2025, 10, 23), date(2025, 10, 28), date(2025, 11, 3), date(2025, 11, 8),
)  # fmt: skip


def _pulls(con: duckdb.DuckDBPyConnection, lines: int, plans: int, cases: int) -> list[tuple[date, int]]:
    """Unbilled pull days (with their license line counts) that bring stg.recon_lines closest to `lines`."""
    per_day = dict(con.execute("SELECT order_date, count(*) FROM g_base GROUP BY ALL").fetchall())
    billed = sum(n for d, n in per_day.items() if d < OPEN) + plans * 8
    billed += con.execute("SELECT count(*) FROM g_base WHERE month = DATE '2025-10-01' AND charge_type = 'cycleCharge' "
                          "AND kind IS NULL AND h(i, 'sla') % 20000 = 1").fetchall()[0][0]  # fmt: skip

    def size(day: date) -> tuple[int, int]:
        start = CLOSED if day < OPEN else OPEN
        lic = sum(n for d, n in per_day.items() if start <= d <= day)
        return lic, lic + (plans * 8 if day > start else 0) + (cases if day == date(2025, 10, 31) else 0)

    days = [d for d in (CLOSED + timedelta(n) for n in range(41)) if d <= AS_OF]
    chosen = [date(2025, 10, 31), AS_OF]
    total = billed + sum(size(d)[1] for d in chosen)
    for day in [*PRIORITY, *(d for d in days if d not in PRIORITY)]:
        n = size(day)[1]
        if day not in chosen and total + n <= lines + n // 2:
            chosen.append(day)
            total += n
    return [(d, size(d)[0]) for d in sorted(chosen)]


def generate(path: Path, *, subscriptions: int, lines: int, seed: int) -> Month:
    """Write a DuckDB file at `path` whose stg tables hold the generated month; its sizes and row counts."""
    n = subscriptions
    month = Month(n, customers=max(10, n // 200), azure_plans=max(2, n // 500), cases=max(1, n // 100_000))
    with open_writer(path) as con:
        build_staging(con)  # empty stg tables with exactly the declared columns and types
        con.execute("SET enable_progress_bar = false")
        statements = [
            *_setup(n, seed, month.customers, month.azure_plans, month.cases),
            _subscriptions(n, seed, month.customers),
            _orders(),
            _lines(),
            _cases(month.cases),
            _base(seed),
        ]
        for statement in statements:
            con.execute(statement)
        pulls = _pulls(con, lines, month.azure_plans, month.cases)
        month.pulls = [d for d, _ in pulls]
        values = ", ".join(
            f"(DATE '{d}', DATE '{d.replace(day=1)}', TIMESTAMPTZ '{d} 12:00:00+00', "
            f"'EUR/current@{d}T12:00:00Z', {lic}, {str(d == date(2025, 10, 31)).lower()}, "
            f"{month.cases if d == date(2025, 10, 31) else 0})"
            for d, lic in pulls
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE g_pulls AS SELECT * FROM (VALUES {values}) "
            "v(pull_date, month, as_of, unit, n_lic, last_closed, n_vanished)"
        )
        con.execute("BEGIN TRANSACTION")
        for statement in [
            *_license_inserts(),
            *_usage(),
            *_consumption_lines(month.cases),
            *_commerce(seed, month.cases),
            *_documents(),
        ]:
            con.execute(statement)
        con.execute("COMMIT")
        for table in ("recon_lines", "usage_lines", "subscriptions", "orders", "invoices", "customers"):
            month.rows[table] = int(con.execute(f"SELECT count(*) FROM stg.{table}").fetchall()[0][0])
        con.execute("CHECKPOINT")
    return month
