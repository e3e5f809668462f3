"""Bulk exports of a batch product's published snapshot, and their signed download links.

`write_export()` streams a filtered snapshot into CSV, Parquet or JSON Lines with flat
memory, atomically, with a SHA-256 checksum and progress callbacks; `download_params()` /
`verify_download()` sign and check the links that serve the file; `jobs` plans, runs,
resumes and bills export jobs.
"""

from tollgate.exports.signing import (
    SignatureError,
    download_params,
    sign_download,
    verify_download,
)
from tollgate.exports.spec import (
    FORMATS,
    ExportError,
    ExportFormat,
    ExportResult,
    ExportSpec,
    count_rows,
    export_batches,
    export_filter,
    snapshot_source,
)
from tollgate.exports.writer import write_export

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportFormat",
    "ExportResult",
    "ExportSpec",
    "SignatureError",
    "count_rows",
    "download_params",
    "export_batches",
    "export_filter",
    "sign_download",
    "snapshot_source",
    "verify_download",
    "write_export",
]
