"""Build the ONNX graph of the converted BERT encoder straight from its numpy weights, and its int8 form.

Why not ``torch.onnx.export``: with torch 2.13 its default (dynamo) exporter needs ``onnxscript``,
which is not installed, and the legacy TorchScript exporter needs a wrapper module around
transformers 5's ``BertModel`` and eager attention, takes 20 s, and warns that it froze the mask's
padding branch while tracing. The encoder is small and fixed (embeddings, then 12 post-norm layers
of self-attention and an erf-GELU feed-forward), so writing its graph with ``onnx.helper`` is
shorter, needs no torch, and gives the same vectors (cosine 1.00000 to sentence-transformers).

The graph maps ``input_ids`` and ``attention_mask`` (int64, batch × sequence) to
``last_hidden_state`` (float32, batch × sequence × hidden), what ``BertModel`` computes with
absolute positions ``0 … S-1`` and token type 0. Mean pooling and normalisation stay in
:mod:`bot.onnx_encoder`, as in sentence-transformers. Self-attention is ONNX Runtime's fused
``com.microsoft.Attention`` (one node per layer, Q, K and V weights concatenated; the raw 0/1 mask
as its ``mask_index``) rather than ~14 standard nodes: queries encode 10-25 % faster, and
the quantizer turns it into ``QAttention``. The rest (LayerNormalization after a residual Add,
MatMul + Add, the erf GELU) is written in the standard patterns the runtime's optimiser fuses into
SkipLayerNormalization, BiasGelu and the quantized MatMuls.

:func:`quantize` writes the dynamically quantized form: int8 weights with one scale per output
channel for every weight MatMul, the Q/K/V projections and the word-embedding Gather; activations
are quantized to uint8 at run time, and the attention products (activation × activation) stay float.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

# ai.onnx opset 17 is the first with LayerNormalization; com.microsoft opset 1 holds Attention.
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "last_hidden_state"


class _Graph:
    """Accumulates nodes and initializers; every node's output is named after the node."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, domain=domain, **attrs))
        return name

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        """``x @ weight.T + bias`` (``weight`` as PyTorch stores it: out × in)."""
        w = self.const(f"{name}.weight", weight.T.astype(np.float32))
        b = self.const(f"{name}.bias", bias.astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, w], f"{name}/matmul"), b], f"{name}/add")

    def layer_norm(self, x: str, sd: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        scale = self.const(f"{prefix}.weight", sd[f"{prefix}.weight"])
        bias = self.const(f"{prefix}.bias", sd[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, scale, bias], prefix, axis=-1, epsilon=eps)


def build(sd: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """The ``onnx.ModelProto`` of the encoder with weights ``sd`` (HF BertModel names) and ``config``."""
    from onnx import TensorProto, helper

    hidden = int(config["hidden_size"])
    eps = float(config["layer_norm_eps"])
    g = _Graph()

    # Embeddings: word + position (0 … S-1) + token type 0; the last two are summed once, here.
    table = g.const("embeddings.word_embeddings.weight", sd["embeddings.word_embeddings.weight"])
    words = g.op("Gather", [table, INPUTS[0]], "embeddings/words", axis=0)
    positions = sd["embeddings.position_embeddings.weight"] + sd["embeddings.token_type_embeddings.weight"][0]
    length = g.op("Shape", [INPUTS[0]], "embeddings/length", start=1, end=2)
    zero = g.const("zero", np.array([0], np.int64))
    table = g.const("embeddings.positions", positions.astype(np.float32))
    x = g.op("Add", [words, g.op("Slice", [table, zero, length, zero], "embeddings/positions")], "embeddings/sum")
    x = g.layer_norm(x, sd, "embeddings.LayerNorm", eps)

    mask = g.op("Cast", [INPUTS[1]], "mask", to=TensorProto.INT32)
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    one = g.const("one", np.array(1.0, np.float32))
    half = g.const("half", np.array(0.5, np.float32))

    for layer in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{layer}."

        def lin(src: str, key: str, p: str = p) -> str:
            return g.linear(src, sd[f"{p}{key}.weight"], sd[f"{p}{key}.bias"], f"{p}{key}")

        qkv = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
        weights = g.const(f"{p}qkv.weight", np.concatenate([sd[f"{n}.weight"].T for n in qkv], axis=1))
        biases = g.const(f"{p}qkv.bias", np.concatenate([sd[f"{n}.bias"] for n in qkv]))
        context = g.op(
            "Attention",
            [x, weights, biases, mask],
            f"{p}attention",
            domain="com.microsoft",
            num_heads=int(config["num_attention_heads"]),
        )
        residual = g.op("Add", [lin(context, "attention.output.dense"), x], f"{p}attention/residual")
        x = g.layer_norm(residual, sd, f"{p}attention.output.LayerNorm", eps)

        # BERT's "gelu", the exact (erf) form: x * (1 + erf(x / sqrt 2)) * 0.5.
        inner = lin(x, "intermediate.dense")
        erf = g.op("Erf", [g.op("Div", [inner, sqrt2], f"{p}gelu/div")], f"{p}gelu/erf")
        gelu = g.op("Mul", [inner, g.op("Add", [erf, one], f"{p}gelu/add")], f"{p}gelu/mul")
        gelu = g.op("Mul", [gelu, half], f"{p}gelu")
        residual = g.op("Add", [lin(gelu, "output.dense"), x], f"{p}output/residual")
        x = g.layer_norm(residual, sd, f"{p}output.LayerNorm", eps)

    g.op("Identity", [x], OUTPUT)
    graph = helper.make_graph(
        g.nodes,
        "multilingual-e5-small",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in INPUTS],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", "sequence", hidden])],
        g.initializers,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="bot.onnx_graph",
        ir_version=8,
    )


def save(model: Any, path: Path) -> None:
    """Write ``model`` as one file (the float32 encoder is about 470 MB, under protobuf's 2 GB limit)."""
    import onnx

    onnx.save_model(model, str(path))


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantizer advises pre-processing through the root logger; a first-use conversion need not say it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize(model: Any, target: Path) -> None:
    """Dynamic int8 quantization of ``model`` (a ModelProto or a path) into ``target``.

    Per-channel int8 weights over the full 8-bit range and uint8 activations quantized per call; only
    constant weights are quantized. Full range is exact on CPUs with AVX-512 VNNI or AVX-VNNI (this
    machine); ONNX Runtime's plain-AVX2 u8×s8 kernel can saturate on it, for which its documentation
    suggests ``reduce_range`` (7-bit weights) at some cost in precision on VNNI machines.
    """
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_root_logger():
        quantize_dynamic(
            model,
            target,
            op_types_to_quantize=["MatMul", "Attention", "Gather"],
            per_channel=True,
            reduce_range=False,
            weight_type=QuantType.QInt8,
            # Shape inference cannot type the outputs of the contrib Attention node: they are float.
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT},
        )
