"""What the stateful steps emit: one `Produced` per call, so the flow routes each kind to its
sink or next step with one call per batch, not one per kind of item."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Produced:
    land: list = field(default_factory=list)  # [Event] -> landing zone
    # [(region, {minute: Minute} | None, watermark | None)] -> the region-activity step: the
    # batch's counts, or the shard's minimum watermark over the input partitions when it moved
    regions: list = field(default_factory=list)
    live: list = field(default_factory=list)  # [(product_id, [row], watermark_at)] -> live store
    side: list = field(default_factory=list)  # [record] -> quarantine (late events)

    def __bool__(self) -> bool:
        return bool(self.land or self.regions or self.live or self.side)
