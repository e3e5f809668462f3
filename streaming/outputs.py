"""Tags on what the stateful steps emit, so the flow can route each kind to its sink.

Every item is `(tag, payload)` and payloads are lists, so routing costs one call per batch:
    LAND   [Event]                              -> landing zone
    LIVE   (product_id, [row], watermark_at)   -> live store (and Kafka for transaction-risk)
    SIDE   [record]                             -> quarantine (late events)
    REGION (region, [RegionFact])               -> the region-activity step
    PROGRESS (region, watermark)                -> the region-activity step: a shard's
                                                   minimum watermark over the input partitions
"""

LAND = "land"
LIVE = "live"
SIDE = "side"
REGION = "region"
PROGRESS = "progress"
