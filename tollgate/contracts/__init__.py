"""Contracts: what each tenant bought (subscriptions, purchases, its tier's trial), and the
terms every delivery is made and rated under."""

from tollgate.contracts.purchases import create_purchase, list_purchases
from tollgate.contracts.records import tenant_contracts
from tollgate.contracts.subscriptions import (
    cancel_subscription,
    create_subscription,
    list_subscriptions,
    subscription_status,
)
from tollgate.contracts.terms import (
    LIST,
    ContractRow,
    Terms,
    check_trial,
    decide_terms,
    trial_ends_at,
)

__all__ = [
    "LIST",
    "ContractRow",
    "Terms",
    "cancel_subscription",
    "check_trial",
    "create_purchase",
    "create_subscription",
    "decide_terms",
    "list_purchases",
    "list_subscriptions",
    "subscription_status",
    "tenant_contracts",
    "trial_ends_at",
]
