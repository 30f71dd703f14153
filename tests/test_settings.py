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
