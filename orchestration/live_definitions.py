"""The live lane's code location: the stream lane's assets and their freshness, every minute.

A code location of its own, beside the batch lane's (definitions.py), because its schedule
launches a run every minute and a run starts by loading its code location. This one imports
the catalog and the live store; the batch lane's loads dbt and Great Expectations, seconds of
CPU a minute for three small reads. In the UI, the two locations' assets form one graph.
"""

from __future__ import annotations

import dagster as dg

from orchestration.live import freshness, stream


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(stream.defs(), freshness.defs())
