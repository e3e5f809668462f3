"""Any bytes in, never a crash: every line read is processed or quarantined with a reason."""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
from bytewax.testing import TestingSource, run_main
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from streamkit import T0, payment, purchase, raw, view

from streaming import metrics
from streaming.flows.build import FlowOptions, build_flow
from tollgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
VALID = raw(
    payment(at=T0), purchase(at=T0 + timedelta(seconds=5)), view(at=T0 + timedelta(seconds=9))
)


@st.composite
def mutated_event(draw) -> bytes:
    """A valid event with a few bytes replaced, inserted or cut out."""
    line = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(line) - 1))
        op = draw(st.sampled_from(["replace", "insert", "cut"]))
        byte = draw(st.binary(min_size=1, max_size=3))
        if op == "replace":
            line[at : at + len(byte)] = byte
        elif op == "insert":
            line[at:at] = byte
        else:
            del line[at : at + len(byte)]
    return bytes(line).replace(b"\n", b" ")


# Invalid UTF-8, lone surrogates and control characters inside JSON strings: the texts that
# decoders and writers (Arrow, SQLite) disagree about.
STRANGE_TEXT = st.sampled_from(
    [b"\xff", b"\xc3\x28", b"\\ud800", b"\\udfff\\ud800", b"\\u0000", b"\x00", b"\xed\xa0\x80"]
)


@st.composite
def strange_field(draw) -> bytes:
    line = draw(st.sampled_from(VALID))
    field = draw(st.sampled_from([b'"c-1"', b'"d-1"', b'"s-1"', b'"books"', b'"EU"', b'"m-1"']))
    text = draw(STRANGE_TEXT)
    return line.replace(field, field[:-1] + text + b'"', 1)


LINES = st.lists(
    st.one_of(
        st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
        mutated_event(),
        strange_field(),
        st.sampled_from(VALID),
    ),
    min_size=1,
    max_size=40,
)


def _count(lake: Path) -> tuple[int, int, int]:
    """(landed rows, contract quarantine records, late records) found in the lake."""
    landed = sum(pq.read_metadata(p).num_rows for p in lake.glob("landing/*/*/*/*.parquet"))
    records = [
        json.loads(line)
        for path in lake.glob("quarantine/*/*.jsonl")
        for line in path.read_text().splitlines()
    ]
    late = sum(r["reason"] == "late" for r in records)
    return landed, len(records) - late, late


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(lines=LINES)
def test_any_bytes_are_processed_or_quarantined_never_a_crash(lines):
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), catalog_path=ROOT / "catalog.yaml", _env_file=None)
        duplicates_before = metrics.DUPLICATES._value.get()
        flow = build_flow(
            settings, TestingSource(lines, batch_size=7), options=FlowOptions(shards=2, writers=1)
        )
        run_main(flow, epoch_interval=timedelta(seconds=0))
        duplicates = metrics.DUPLICATES._value.get() - duplicates_before
        landed, rejected, _ = _count(Path(tmp) / "lake")
    assert landed + duplicates + rejected == len(lines)
