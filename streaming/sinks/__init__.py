"""Where the live lane delivers: live store, landing zone, quarantine, Kafka."""

from streaming.sinks.files import EpochFileSink, LandingFiles, QuarantineFiles
from streaming.sinks.kafka import insight_messages
from streaming.sinks.livestore import LiveStoreSink

__all__ = ["EpochFileSink", "LandingFiles", "LiveStoreSink", "QuarantineFiles", "insight_messages"]
