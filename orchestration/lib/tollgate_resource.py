"""The Tollgate settings a Dagster run works with, as a resource both code locations share."""

import dagster as dg
from sqlalchemy import Engine

from tollgate.catalog import Catalog, load_catalog
from tollgate.db.engine import engine_for
from tollgate.lake import Lake
from tollgate.settings import Settings


class TollgateResource(dg.ConfigurableResource):
    """Where a run reads and writes; unset fields come from TOLLGATE_* settings."""

    data_dir: str | None = None
    catalog_path: str | None = None
    metadata_db_url: str | None = None
    live_store_url: str | None = None
    warehouse_path: str | None = None
    lake_dir: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "TollgateResource":
        return cls(
            data_dir=str(settings.data_dir),
            catalog_path=str(settings.catalog_path),
            metadata_db_url=settings.metadata_db_url,
            live_store_url=settings.live_store_url,
            warehouse_path=str(settings.warehouse_path),
            lake_dir=str(settings.lake_dir),
        )

    def settings(self) -> Settings:
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return Settings(**given)

    def catalog(self) -> Catalog:
        return load_catalog(self.settings().catalog_path)

    def metadata_engine(self) -> Engine:
        """The metadata database (one engine per URL and process)."""
        return engine_for(self.settings().metadata_db_url)

    def lake(self) -> Lake:
        return Lake.from_settings(self.settings())
