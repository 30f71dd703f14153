"""Fuzzing every operation: schemathesis against the API's own OpenAPI schema (anonymous
with the rate limits on, and as staff over a library of its own), and hypothesis against the
chat's HTTP API. No input may cause a server error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance
from schemathesis.specs.openapi.checks import ignored_auth

from ingest.pipeline import IngestReport, run
from kb.keys import KeyStore, Role
from kb.library import Library
from kb.settings import ServerSettings, Settings
from tests.conftest import make_settings
from ui.api import create_app

pytestmark = pytest.mark.e2e
EXAMPLES = 30
SLOW = {"POST /api/documents": 4}  # each upload is read in a process of its own


def _fuzz(app: Any, headers: dict[str, str], skip: set[str] = frozenset()) -> tuple[int, int]:
    """(cases, operations) after running every operation's strategy through the app."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    cases = 0
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        if label in skip:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=SLOW.get(label, EXAMPLES),
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal cases
            cases += 1
            # A date range given backwards is valid JSON Schema but refused with a 422 that
            # says why: the one rule the schema cannot express. A key is optional on the read
            # endpoints (anonymous callers see public documents), so a request without one
            # may well succeed.
            case.call_and_validate(
                headers=headers, excluded_checks=[positive_data_acceptance, ignored_auth]
            )

        check()
    return cases, len(operations)


def test_anonymous_fuzzing_with_the_rate_limits_on_never_errs(
    sample: tuple[Settings, IngestReport, Path], library: Library
) -> None:
    app = create_app(sample[0], library, with_chat=False)  # the default limits: 120 a minute
    cases, operations = _fuzz(app, {})
    assert operations >= 10 and cases >= operations * 10


@pytest.fixture(scope="module")
def staff_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    tmp = tmp_path_factory.mktemp("fuzz-staff")
    (tmp / "corpus").mkdir()
    (tmp / "corpus" / "note.md").write_text("# Note\n\nSeasonal permits last nine months.\n")
    settings = make_settings(
        tmp,
        server=ServerSettings(requests_per_minute=100_000, requests_per_minute_with_key=100_000),
    )
    run([tmp / "corpus"], settings, progress=False)
    return settings, KeyStore(settings.data_dir).create(Role.staff, "fuzzer")


def test_staff_fuzzing_of_every_operation_never_errs(staff_library: tuple[Settings, str]) -> None:
    settings, key = staff_library
    app = create_app(settings, Library(settings), with_chat=False)
    cases, operations = _fuzz(app, {"Authorization": f"Bearer {key}"})
    assert cases >= (operations - 1) * 10


@pytest.fixture(scope="module")
def chat_client(
    sample: tuple[Settings, IngestReport, Path], library: Library
) -> Iterator[TestClient]:
    lifted = sample[0].model_copy(update={"server": ServerSettings(requests_per_minute=100_000)})
    with TestClient(create_app(lifted, library), raise_server_exceptions=False) as client:
        yield client


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _fuzz_chat_endpoint(client: TestClient, name: str, arity: int) -> int:
    """Random JSON for one of the chat's endpoints, of its arity or not; the calls made."""
    calls = 0

    @given(data=st.lists(JSON, min_size=arity, max_size=arity) | st.lists(JSON, max_size=3))
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    def check(data: list[Any]) -> None:
        nonlocal calls
        calls += 1
        started = client.post(f"/ui/gradio_api/call{name}", json={"data": data})
        assert started.status_code < 500, started.text
        if started.status_code == 200:
            result = client.get(f"/ui/gradio_api/call{name}/{started.json()['event_id']}")
            assert result.status_code == 200
            assert re.search(r"^event: (complete|error)$", result.text, re.M), result.text

    check()
    return calls


def test_the_chats_http_api_never_errs(chat_client: TestClient) -> None:
    info = chat_client.get("/ui/gradio_api/info").json()["named_endpoints"]
    endpoints = {
        name: len(e["parameters"]) for name, e in info.items() if not re.search(r"_\d+$", name)
    }
    assert {"/ask", "/find", "/catalogue", "/sign_in", "/sign_out"} <= set(endpoints)
    calls = sum(_fuzz_chat_endpoint(chat_client, n, a) for n, a in endpoints.items())
    assert calls >= len(endpoints) * 10
    assert chat_client.get("/api/health").status_code == 200
