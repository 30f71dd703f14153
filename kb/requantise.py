"""Build step: the bundled MiniLM re-quantised per channel, so onnxruntime runs it with integer
kernels (`python -m kb.embedder`, run by `make setup`; the embedder also builds it on first
use). Nothing is downloaded: the input is the shipped model, checked by its sha256, and the
output is checked by its own (the build is deterministic).

The shipped graph keeps its weights as int8 initialisers turned back into floats in the graph
(Cast, then Mul by a per-channel scale); onnxruntime folds those at load time, so every MatMul
runs in fp32. Folding them into fp32 initialisers and quantising the MatMuls dynamically, per
output channel (MatMul becomes DynamicQuantizeLinear + MatMulInteger), measured 1.5 times the
texts per second on one thread (1.3 on two) with vectors at cosine 0.9935 (min 0.987) to the
shipped model's; per-tensor scales measured cosine 0.935 and were rejected.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REQUANTISED_SHA256 = "41030aa2ef4b4098dae261e04662e843795bde105912f10429edfeda647be0b0"
REQUANTISED_NAME = "minilm-int8-per-channel.onnx"


def default_location() -> Path:
    """Beside the installed packages (the virtual environment's share folder)."""
    return Path(sys.prefix) / "share" / "kb-models" / REQUANTISED_NAME


def _fold_weight_dequantisation(model: Any) -> int:
    """Replace each Cast(int8 initialiser) -> Mul(scale) chain feeding only MatMuls by one fp32
    initialiser (the same float32 product the graph computes). Returns how many."""
    from onnx import numpy_helper

    graph = model.graph
    initialisers = {i.name: i for i in graph.initializer}
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    dropped: set[int] = set()
    folded = []
    for cast in graph.node:
        if cast.op_type != "Cast" or cast.input[0] not in initialisers:
            continue
        weights = numpy_helper.to_array(initialisers[cast.input[0]])
        cast_users = users.get(cast.output[0], [])
        if weights.dtype != np.int8 or len(cast_users) != 1 or cast_users[0].op_type != "Mul":
            continue
        mul = cast_users[0]
        scale = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
        if scale not in initialisers:
            continue
        if not all(u.op_type == "MatMul" for u in users.get(mul.output[0], [])):
            continue  # the embedding tables (Gather) keep their shipped form
        product = weights.astype(np.float32) * numpy_helper.to_array(initialisers[scale])
        folded.append(numpy_helper.from_array(product.astype(np.float32), mul.output[0]))
        dropped.update((id(cast), id(mul)))
    kept = [n for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for n in graph.node for name in n.input} | {o.name for o in graph.output}
    still_used = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(still_used + folded)
    return len(folded)


def requantise(source: Path, target: Path) -> None:
    """Write the per-channel model for the shipped `source` to `target` (atomically)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    if _fold_weight_dequantisation(model) == 0:
        raise ValueError(f"{source}: no dequantised MatMul weights found; not the shipped model?")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        folded = Path(tmp) / "folded.onnx"
        onnx.save(model, str(folded))
        built = Path(tmp) / target.name
        logging.disable(logging.WARNING)  # its advice to pre-process applies to images
        try:
            quantize_dynamic(folded, built, per_channel=True, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"])  # fmt: skip
        finally:
            logging.disable(logging.NOTSET)
        os.replace(built, target)
