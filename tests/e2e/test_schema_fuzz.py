"""schemathesis against the API's own OpenAPI schema: no input may cause a server error."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.specs.openapi.checks import ignored_auth

from ingest.pipeline import IngestReport
from kb.library import Library
from kb.settings import ServerSettings, Settings
from ui.api import create_app

pytestmark = pytest.mark.e2e
EXAMPLES = 40


def test_api_never_answers_with_a_server_error(
    sample: tuple[Settings, IngestReport, Path], library: Library
) -> None:
    # Anonymous fuzzing: staff endpoints answer 401 here; the rate limit is lifted.
    lifted = sample[0].model_copy(update={"server": ServerSettings(requests_per_minute=100_000)})
    app = create_app(lifted, library, with_chat=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    cases = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal cases
            cases += 1
            # A date range given backwards is valid JSON Schema but refused with a 422 that
            # says why: the one rule the schema cannot express. A key is optional on the read
            # endpoints (anonymous callers see public documents), so a request without one
            # may well succeed.
            case.call_and_validate(excluded_checks=[positive_data_acceptance, ignored_auth])

        check()
    print(f"schemathesis: {cases} cases over {len(operations)} operations")
    assert cases >= len(operations) * 10
