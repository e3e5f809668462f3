import hashlib
import json
import threading
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tollgate.catalog import load_catalog
from tollgate.exports import (
    ExportError,
    ExportSpec,
    SignatureError,
    count_rows,
    download_params,
    snapshot_source,
    verify_download,
    write_export,
)
from tollgate.lake import SNAPSHOT_DATA_FILE, SNAPSHOT_MANIFEST_FILE, Lake

PRODUCT = "customer-behavior-daily"
REGIONS = ["US-West", "US-East", "EU", "APAC"]


def _rows(n: int) -> pa.Table:
    days = [date(2026, 11, 1) + timedelta(days=i % 20) for i in range(n)]
    return pa.table(
        {
            "customer_day_id": [f"c-{i:06d}@{d}" for i, d in enumerate(days)],
            "customer_id": [f"c-{i % 97:06d}" for i in range(n)],
            "activity_date": pa.array(days, pa.date32()),
            "region": [REGIONS[i % 4] for i in range(n)],
            "sessions": pa.array([i % 5 for i in range(n)], pa.int64()),
            "page_views": pa.array([i % 11 for i in range(n)], pa.int64()),
            "searches": pa.array([i % 3 for i in range(n)], pa.int64()),
            "add_to_carts": pa.array([i % 2 for i in range(n)], pa.int64()),
            "purchases": pa.array([i % 2 for i in range(n)], pa.int64()),
            "spend_cents": pa.array([i * 7 for i in range(n)], pa.int64()),
            "conversion_rate": [((i % 5) / 5) or None for i in range(n)],
        }
    )


@pytest.fixture
def published(settings):
    """A published snapshot of 5000 rows in 1000-row groups; returns (lake, product, table)."""
    lake = Lake.from_settings(settings)
    table = _rows(5000)
    target = lake.snapshot_dir(PRODUCT, "v000001")
    target.mkdir(parents=True)
    pq.write_table(table, target / SNAPSHOT_DATA_FILE, row_group_size=1000)
    (target / SNAPSHOT_MANIFEST_FILE).write_text(json.dumps({"version": "v000001"}))
    lake.set_current(PRODUCT, "v000001")
    product = load_catalog(settings.catalog_path).product(PRODUCT)
    return lake, product, table


def _spec(published, fmt, **kw) -> ExportSpec:
    lake, product, _ = published
    _, source = snapshot_source(lake, PRODUCT)
    return ExportSpec(product=product, source=source, fmt=fmt, **kw)


def _expected(table: pa.Table) -> pl.DataFrame:
    return pl.from_arrow(table).filter(
        pl.col("region").is_in(["EU", "APAC"])
        & pl.col("activity_date").is_between(date(2026, 11, 3), date(2026, 11, 9))
        & (pl.col("sessions") == 2)
    )


def _read_back(path, fmt, schema: pa.Schema) -> pl.DataFrame:
    if fmt == "parquet":
        return pl.from_arrow(pq.read_table(path))
    if fmt == "csv":
        options = pacsv.ConvertOptions(column_types={f.name: f.type for f in schema})
        return pl.from_arrow(pacsv.read_csv(path, convert_options=options))
    return pl.read_ndjson(path, schema=pl.from_arrow(schema.empty_table()).schema)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_export_holds_exactly_the_filtered_snapshot_rows(published, settings, fmt):
    lake, _, table = published
    spec = _spec(
        published,
        fmt,
        date_from=date(2026, 11, 3),
        date_to=date(2026, 11, 9),
        filters={"sessions": 2},
        regions=["EU", "APAC"],
    )
    dest = lake.export_file("acme", "exp-1", fmt)
    seen: list[int] = []
    result = write_export(spec, dest, progress=seen.append, batch_rows=300)
    expected = _expected(table)
    assert expected.height > 100 and result.rows == expected.height == count_rows(spec)
    got = _read_back(dest, fmt, table.schema)
    assert got.sort("customer_day_id").equals(expected.sort("customer_day_id"))
    # progress rises batch by batch to the total
    assert len(seen) > 1 and seen == sorted(seen) and seen[-1] == result.rows
    content = dest.read_bytes()
    assert result.bytes == len(content)
    assert result.sha256 == hashlib.sha256(content).hexdigest()
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temporary left behind


def test_columns_are_chosen_and_unknown_names_or_values_refused(published, settings):
    lake, _, table = published
    spec = _spec(
        published,
        "csv",
        columns=["customer_id", "spend_cents"],
        filters={"customer_id": ["c-000001", "c-000002"]},
    )
    dest = lake.export_file("acme", "exp-2", "csv")
    result = write_export(spec, dest)
    header, *lines = dest.read_text().splitlines()
    assert header == '"customer_id","spend_cents"'
    assert (
        len(lines)
        == result.rows
        == sum(1 for c in table["customer_id"].to_pylist() if c in ("c-000001", "c-000002"))
    )
    with pytest.raises(ExportError, match="no column 'secret'"):
        write_export(_spec(published, "csv", columns=["secret"]), dest)
    with pytest.raises(ExportError, match="unknown column"):
        count_rows(_spec(published, "csv", filters={"nope": 1}))
    with pytest.raises(ExportError, match="not a valid"):
        count_rows(_spec(published, "csv", filters={"sessions": "many"}))
    assert dest.read_text().splitlines()[0] == header  # a refused export leaves the old file


def test_an_export_cancelled_from_progress_leaves_nothing(published):
    lake, _, _ = published
    dest = lake.export_file("acme", "exp-4", "csv")

    def cancel(rows_done: int) -> None:
        if rows_done > 1000:
            raise InterruptedError("cancelled")

    before = threading.active_count()
    with pytest.raises(InterruptedError):
        write_export(_spec(published, "csv"), dest, progress=cancel, batch_rows=500)
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
    assert threading.active_count() == before  # the read-ahead thread is gone


def test_an_export_matching_nothing_is_still_a_valid_file(published):
    lake, _, _ = published
    spec = _spec(published, "parquet", date_from=date(2030, 1, 1))
    dest = lake.export_file("acme", "exp-3", "parquet")
    result = write_export(spec, dest)
    assert result.rows == 0 and pq.read_table(dest).num_rows == 0
    assert pq.read_table(dest).column_names == spec.product.column_names


def test_timestamp_time_columns_are_cut_by_utc_day(settings, tmp_path):
    product = load_catalog(settings.catalog_path).product("transaction-insights-history")
    src = tmp_path / "t.parquet"
    stamps = [
        datetime(2026, 11, 2, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 3, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 3, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 4, tzinfo=UTC),
    ]
    table = pa.table(
        {
            "transaction_id": ["a", "b", "c", "d"],
            "transaction_date": pa.array(stamps, pa.timestamp("us", "UTC")),
        }
    )
    pq.write_table(table, src)
    # The time column is stored as a zoned timestamp here: the day bounds follow its type.
    spec = ExportSpec(
        product,
        src,
        "jsonl",
        columns=["transaction_id"],
        date_from=date(2026, 11, 3),
        date_to=date(2026, 11, 3),
    )
    result = write_export(spec, tmp_path / "out.jsonl")
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert result.rows == 2 and [json.loads(x)["transaction_id"] for x in lines] == ["b", "c"]


def _flip_last(signature: str) -> str:
    return signature[:-1] + ("1" if signature[-1] == "0" else "0")


def test_signed_download_links_expire_and_resist_tampering():
    secret, now = "s3cret", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    params = download_params(secret, "exp-1", "acme", now + timedelta(minutes=15))
    verify_download(secret, "exp-1", "acme", params["expires"], params["signature"], now)
    with pytest.raises(SignatureError) as expired:
        verify_download(
            secret,
            "exp-1",
            "acme",
            params["expires"],
            params["signature"],
            now + timedelta(minutes=15),
        )
    assert expired.value.reason == "expired"
    later = str(int(params["expires"]) + 3600)
    tampered = [
        ("exp-1", "acme", later, params["signature"]),  # stretched expiry
        ("exp-2", "acme", params["expires"], params["signature"]),  # another export
        ("exp-1", "beta", params["expires"], params["signature"]),  # another tenant
        ("exp-1", "acme", params["expires"], _flip_last(params["signature"])),
        ("exp-1", "acme", "soon", params["signature"]),
    ]
    for export_id, tenant, expires, signature in tampered:
        with pytest.raises(SignatureError) as bad:
            verify_download(secret, export_id, tenant, expires, signature, now)
        assert bad.value.reason == "invalid"
    with pytest.raises(SignatureError):
        verify_download("other", "exp-1", "acme", params["expires"], params["signature"], now)
