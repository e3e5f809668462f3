"""Bytewax dataflows of the live lane."""
