"""`python -m orchestration.prepare`: parse the dbt project for this deployment's settings.

A deployment step, run before Dagster loads the batch lane (and again after a model changes):
loading the definitions reads the manifest this writes, and never parses the project itself.
"""

from __future__ import annotations

from orchestration.defs.resources import dbt_project, prepare_project

if __name__ == "__main__":
    prepare_project()
    print(f"dbt manifest: {dbt_project.manifest_path}")
