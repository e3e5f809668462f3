"""What a buyer is credited when a product misses its SLA, as the catalog states it.

The catalog holds one policy for every product and lets a product state its own;
tollgate.billing.credits applies them to a month's deliveries and availability.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AvailabilityCredit(BaseModel):
    """A month's availability under `below` credits `percent` of the product's charges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    below: float = Field(gt=0, le=1)
    percent: int = Field(gt=0, le=100)


class CreditPolicy(BaseModel):
    """What a buyer is credited when a product misses its SLA (tollgate.billing.credits).

    `stale`: a delivery made over the product's freshness SLA is credited in full;
    `degraded`: so is one made while the quality gate held the product degraded (or stale);
    `availability`: the largest percent whose `below` the month's availability is under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale: bool = False
    degraded: bool = False
    availability: list[AvailabilityCredit] = []

    def availability_percent(self, availability: float) -> int:
        return max((a.percent for a in self.availability if availability < a.below), default=0)

    @property
    def credits_deliveries(self) -> bool:
        return self.stale or self.degraded
