"""The metadata database: models, engines and migrations."""
