"""The entitlement gate's contracts: which terms a request is served under, or a 403.

Every channel asks `terms_for` before it serves (REST answers, push streams, exports), so a
product sold by subscription is never delivered without an active one, a one-time product
never without a purchase, and a trial never past its end. A tenant's subscriptions and
purchases are re-read at most every `ttl_seconds` per process (a new contract or a
cancellation applies within that time); products sold per use need no read at all.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.auth import Principal
from api.errors import ApiError
from tollgate.catalog import Catalog, Product
from tollgate.clock import utcnow
from tollgate.contracts import ContractRow, Terms, check_trial, decide_terms, tenant_contracts
from tollgate.contracts.access import granted_version
from tollgate.errors import NotEntitled
from tollgate.lake import Lake
from tollgate.prices import Channel

_CONTRACT_MODELS = ("subscription_monthly", "one_time")
Rows = tuple[list[ContractRow], list[ContractRow]]


class ContractStore:
    """Each tenant's subscriptions and purchases, cached per process for `ttl_seconds`."""

    def __init__(self, engine: Engine, catalog: Catalog, ttl_seconds: float = 1.0) -> None:
        self.engine, self.catalog, self.ttl_seconds = engine, catalog, ttl_seconds
        self._rows: dict[str, tuple[float, Rows]] = {}

    def needs_read(self, principal: Principal, product: Product) -> bool:
        """True when deciding needs the database (so the caller may move off the loop)."""
        if product.price.model not in _CONTRACT_MODELS:
            return False
        hit = self._rows.get(principal.tenant_id)
        return hit is None or hit[0] <= time.monotonic()

    def rows(self, tenant_id: str) -> Rows:
        hit = self._rows.get(tenant_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with Session(self.engine) as session:
            rows = tenant_contracts(session, tenant_id)
        self._rows[tenant_id] = (time.monotonic() + self.ttl_seconds, rows)
        return rows

    def forget(self, tenant_id: str) -> None:
        """Drop a tenant's cached contracts (this process just changed them)."""
        self._rows.pop(tenant_id, None)

    def check_trial(self, principal: Principal, product_id: str) -> None:
        """403 `trial_expired` when the tenant's trial has ended (it cannot buy either)."""
        try:
            check_trial(
                self.catalog, principal.tier, principal.tier_since or utcnow(), product_id, utcnow()
            )
        except NotEntitled as exc:
            raise ApiError(403, exc.code, str(exc), exc.details) from None

    def terms_for(self, principal: Principal, product: Product, channel: Channel) -> Terms:
        """The terms of serving `product` over `channel` now; 403 with the gate's code if
        the tenant's contracts do not cover it."""
        subs, buys = (
            self.rows(principal.tenant_id) if product.price.model in _CONTRACT_MODELS else ([], [])
        )
        tier_since = principal.tier_since or utcnow()
        try:
            return decide_terms(
                self.catalog, principal.tier, tier_since, product, channel, utcnow(), subs, buys
            )
        except NotEntitled as exc:
            raise ApiError(403, exc.code, str(exc), exc.details) from None


def purchased_version(lake: Lake, terms: Terms, product_id: str, version: str | None) -> str | None:
    """The version a purchase lets the buyer read: `version` if published within the
    purchase's update window, else the newest one that was (403 if none is held)."""
    if terms.updates_until is None or version is None:
        return version
    granted = granted_version(lake, product_id, version, terms.updates_until)
    if granted is None:
        raise ApiError(
            403,
            "purchase_required",
            f"no snapshot of {product_id} published by {terms.updates_until:%Y-%m-%d} is "
            "held any more; buy it again for the current one",
            {"product_id": product_id, "updates_until": terms.updates_until.isoformat()},
        )
    return granted
