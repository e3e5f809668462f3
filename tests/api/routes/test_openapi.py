"""Schemathesis over the OpenAPI schema, in-process: no 5xx, every response matches its schema."""

from __future__ import annotations

import pytest
import schemathesis
from apiworld import auth, behavior_row, risk_row
from hypothesis import HealthCheck, given, settings
from limits import RateLimitItemPerHour
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_target(api_settings, world):
    world.live_rows("transaction-risk", [risk_row(i, "EU") for i in range(5)])
    world.snapshot("customer-behavior-daily", [behavior_row(i, "EU") for i in range(5)])
    _, key = world.tenant("premium")
    app = create_app(api_settings)
    # A budget the fuzzer cannot spend, so it reaches the routes behind the limiter.
    app.state.services.limits.items["premium"] = RateLimitItemPerHour(10**9)
    return app, key


def test_api_conforms_to_its_schema(fuzz_target):
    app, key = fuzz_target
    # A push stream never ends; it has its own tests against a real server.
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path_regex=r".*/stream$"
    )
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def conforms(case):
            case.call_and_validate(headers=auth(key), checks=CHECKS)

        conforms()
