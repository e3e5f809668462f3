"""Billing: usage rollups, invoices, cost attribution and margins, all from the usage ledger.

Compute functions are pure (ledger aggregates in, results out) so the same ledger always
gives the same invoice; `store` persists results by replacing a whole day or month, so a
rerun is idempotent. `jobs` strings the two together for Dagster, the CLI and the API.
"""

from tollgate.billing.costs import CostRates, TenantDayCost, TenantMonthMargin, daily_costs, margins
from tollgate.billing.invoices import BillingError, InvoiceDraft, LineItem, price_month
from tollgate.billing.jobs import attribute_costs, invoice_month, margin_month, rollup_days
from tollgate.billing.ledger_reads import read_daily_usage, read_rated_usage
from tollgate.billing.queries import tenant_invoices, tenant_usage

__all__ = [
    "BillingError",
    "CostRates",
    "InvoiceDraft",
    "LineItem",
    "TenantDayCost",
    "TenantMonthMargin",
    "attribute_costs",
    "daily_costs",
    "invoice_month",
    "margin_month",
    "margins",
    "price_month",
    "read_daily_usage",
    "read_rated_usage",
    "rollup_days",
    "tenant_invoices",
    "tenant_usage",
]
