from pathlib import Path

import pytest
from pydantic import ValidationError

from kb.settings import RetrievalSettings, Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATA_DIR", "/srv/kb")
    monkeypatch.setenv("KB_RETRIEVAL__K", "12")
    settings = Settings()
    assert settings.data_dir == Path("/srv/kb")
    assert settings.retrieval.k == 12


def test_a_misspelled_group_key_fails() -> None:
    with pytest.raises(ValidationError):
        RetrievalSettings(kk=3)  # type: ignore[call-arg]


def test_out_of_range_values_fail() -> None:
    with pytest.raises(ValidationError):
        RetrievalSettings(k=0)


def test_the_retired_gate_thresholds_warn_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KB_ANSWER__MIN_SIMILARITY", "0.4")
    with pytest.warns(UserWarning, match="KB_ANSWER__MIN_EVIDENCE"):
        settings = Settings()
    assert settings.answer.min_evidence == Settings.model_fields["answer"].default.min_evidence
