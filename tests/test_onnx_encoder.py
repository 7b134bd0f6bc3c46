"""The bundled model on ONNX Runtime (``bot.onnx_graph``, ``bot.onnx_encoder``): same vectors as the torch
model it was converted from, no torch in the process, one thread by default.

The first test builds a tiny random encoder both ways (the ONNX graph from 4-bit blocks, and
transformers' ``BertModel`` from the same weights dequantised) and compares them on a padded batch,
so a mistake in the graph (positions, mask, GELU, residuals) shows without the real model.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.config import EmbeddingSettings, load_settings
from bot.embeddings import load_embedder
from bot.onnx_graph import Blocks, build
from tests.helpers.knowledge import MODEL_NAME, REPO, run_cli

QUERIES = [
    "办理结婚登记需要带哪些材料？",
    "离婚冷静期是多少天？",
    "低保怎么申请？",
    "老人饭堂一餐几多钱？",
    "我跟前妻分居都五六年了，一直没去办离婚手续，现在想跟女朋友去领证，登记处会给我们办吗？",
]
PASSAGES = [
    "内地居民办理结婚登记，男女双方应当共同到婚姻登记机关提交本人的户口簿、身份证和签字声明。",
    "自婚姻登记机关收到离婚登记申请之日起三十日内，任何一方不愿意离婚的，可以撤回离婚登记申请。",
    "申请最低生活保障，以家庭为单位，由户主或者其代理人向户籍所在地的乡镇人民政府（街道办事处）提出书面申请。",
    "长者饭堂为60周岁以上老年人提供助餐服务，每餐12元，80周岁以上老人享受补贴。",
    "临时救助对象包括急难型和支出型困难家庭，可以向乡镇（街道）申请。",
]


def tiny_encoder(
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, Blocks], dict[str, int | float]]:
    """A 2-layer, 64-wide BERT with random 4-bit matrices, as model_convert hands them to the graph."""
    hidden, ff, vocab = 64, 128, 40
    config: dict[str, int | float] = {
        "hidden_size": hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": ff,
        "vocab_size": vocab,
        "max_position_embeddings": 32,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
    }

    def blocks(rows: int, cols: int) -> Blocks:
        codes = rng.integers(0, 16, (rows, cols), dtype=np.uint8)
        return Blocks(codes, rng.uniform(0.005, 0.05, (rows, cols // 32)).astype(np.float32))

    def vector(n: int, scale: float = 0.1, around: float = 0.0) -> np.ndarray:
        return (around + scale * rng.standard_normal(n)).astype(np.float32)

    quantized = {"embeddings.word_embeddings.weight": blocks(vocab, hidden)}
    sd = {
        "embeddings.position_embeddings.weight": rng.normal(0, 0.1, (32, hidden)).astype(np.float32),
        "embeddings.token_type_embeddings.weight": rng.normal(0, 0.1, (2, hidden)).astype(np.float32),
        "embeddings.LayerNorm.weight": vector(hidden, around=1.0),
        "embeddings.LayerNorm.bias": vector(hidden),
    }
    shapes = {
        "attention.self.query": (hidden, hidden),
        "attention.self.key": (hidden, hidden),
        "attention.self.value": (hidden, hidden),
        "attention.output.dense": (hidden, hidden),
        "intermediate.dense": (ff, hidden),
        "output.dense": (hidden, ff),
    }
    for layer in range(2):
        p = f"encoder.layer.{layer}."
        for name, (rows, cols) in shapes.items():
            quantized[f"{p}{name}.weight"] = blocks(rows, cols)
            sd[f"{p}{name}.bias"] = vector(rows)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            sd[f"{p}{norm}.weight"] = vector(hidden, around=1.0)
            sd[f"{p}{norm}.bias"] = vector(hidden)
    for name, b in quantized.items():
        weights = (b.codes.reshape(-1, 32).astype(np.float32) - 8) * b.scales.reshape(-1, 1)
        sd[name] = weights.reshape(b.codes.shape)
    return sd, quantized, config


def test_the_graph_computes_what_bert_computes_on_a_padded_batch(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort
    import torch
    from transformers import BertConfig, BertModel

    sd, quantized, config = tiny_encoder(np.random.default_rng(12))
    path = tmp_path / "tiny.onnx"
    onnx.save_model(build(sd, quantized, config), str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    bert = BertModel(
        BertConfig(**config, hidden_act="gelu", attn_implementation="eager"), add_pooling_layer=False
    )
    bert.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    bert.eval()
    ids = np.array([[0, 5, 9, 13, 2, 1, 1], [0, 7, 3, 11, 22, 39, 2]], np.int64)  # 1 = padding
    mask = (np.arange(7) < np.array([[5], [7]])).astype(np.int64)
    with torch.no_grad():
        expected = bert(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
        ).last_hidden_state
    (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask})

    real = mask.astype(bool)  # padding positions are undefined in both and pooled by neither
    a, b = got[real], expected.numpy()[real]
    cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert cosine.min() > 0.999  # int8 activations per block: close, not bit for bit
    # The first text's tokens do not see its padding: alone it gives the same states.
    (alone,) = session.run(None, {"input_ids": ids[:1, :5], "attention_mask": mask[:1, :5]})
    np.testing.assert_allclose(alone[0], got[0, :5], atol=1e-5)


def test_blocks_pack_two_codes_a_byte_low_nibble_first() -> None:
    codes = np.arange(64, dtype=np.uint8).reshape(1, 64) % 16
    packed = Blocks(codes, np.ones((1, 2), np.float32)).packed()
    assert packed.shape == (1, 2, 16)
    assert packed[0, 0, 0] == 0x10 and packed[0, 0, 1] == 0x32 and packed[0, 1, 7] == 0xFE


# --- the real model ------------------------------------------------------------------------------


def cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    x, y = np.array(a), np.array(b)
    return (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)


@pytest.mark.slow
def test_onnx_and_torch_give_the_same_vectors_and_the_same_best_passage(
    make_data_dir: Callable[..., Path], model_dir: Path
) -> None:
    data = make_data_dir()
    onnx_path = load_embedder(EmbeddingSettings(), data)
    torch_path = load_embedder(EmbeddingSettings(model=str(model_dir / MODEL_NAME)), data)  # a folder: torch
    assert type(onnx_path.model).__name__ == "OnnxEncoder"
    assert type(torch_path.model).__name__ == "SentenceTransformer"

    queries = [onnx_path.embed_query(q) for q in QUERIES]
    passages = onnx_path.embed_documents(PASSAGES)
    torch_queries = [torch_path.embed_query(q) for q in QUERIES]
    torch_passages = torch_path.embed_documents(PASSAGES)
    assert cosines(queries, torch_queries).min() >= 0.99
    assert cosines(passages, torch_passages).min() >= 0.99
    best = np.argmax(np.array(queries) @ np.array(passages).T, axis=1)
    torch_best = np.argmax(np.array(torch_queries) @ np.array(torch_passages).T, axis=1)
    assert (
        best.tolist() == torch_best.tolist() == [0, 1, 2, 3, 1]
    )  # the last asks about an unfinished divorce


@pytest.mark.slow
def test_a_text_gets_the_same_vector_alone_or_with_others(make_data_dir: Callable[..., Path]) -> None:
    embedder = load_embedder(EmbeddingSettings(), make_data_dir())
    together = embedder.embed_documents(PASSAGES)
    for text, vector in zip(PASSAGES, together, strict=True):
        np.testing.assert_allclose(embedder.embed_documents([text])[0], vector, atol=1e-6)


@pytest.mark.slow
def test_embedding_with_the_bundled_model_never_imports_torch(make_data_dir: Callable[..., Path]) -> None:
    data = make_data_dir()
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from bot.config import load_settings
        from bot.embeddings import load_embedder
        settings = load_settings(None, data=Path({str(data)!r}))
        embedder = load_embedder(settings.embedding, settings.data_dir)
        vector = embedder.embed_query("低保怎么申请？")
        embedder.embed_documents(["申请最低生活保障，以家庭为单位。"])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "sentence_transformers", "transformers"))
        session = embedder.model.session.get_session_options()
        print(json.dumps({{"dim": len(vector), "heavy": heavy, "threads": session.intra_op_num_threads}}))
        """
    )
    done = run_cli("-c", code)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dim"] == 384
    assert report["heavy"] == []
    assert (
        report["threads"] == load_settings(None).embedding.threads == 1
    )  # config.toml's [embedding] threads


@pytest.mark.slow
def test_the_threads_setting_reaches_the_onnx_session(make_data_dir: Callable[..., Path]) -> None:
    data = make_data_dir()
    settings = dataclasses.replace(EmbeddingSettings(), threads=2)
    session = load_embedder(settings, data).model.session
    assert session.get_session_options().intra_op_num_threads == 2
    assert (
        load_embedder(EmbeddingSettings(), data).model.session.get_session_options().intra_op_num_threads == 1
    )


def _texts_residents_and_staff_write() -> list[str]:
    """Every line and every whole file of the knowledge folder, every evaluation question, and the
    awkward cases: special tokens typed in the text, unknown characters in runs, ties between splits
    (``qqq``: q+qq or qq+q score the same), odd spaces, full-width forms, text past the length limit."""
    texts: list[str] = []
    for path in sorted((REPO / "knowledge").glob("*.md")):
        body = path.read_text(encoding="utf-8")
        texts += [body, *(line for line in body.splitlines() if line.strip())]
    for path in sorted((REPO.parent / "shared" / "corpus").rglob("*.jsonl")):
        texts += [
            json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line
        ]
    texts += [f"query: {t}" for t in texts[:300]]
    return [
        *texts,
        "",
        " ",
        "a" * 1000,
        "www.qqq.com qqqq",
        "<s>低保</s> <mask>x<unk>",
        "𓀀𓀁𓀂 三个生僻符号",
        "  两个  空格\t和\t制表符 ",
        "ＡＢＣ全角１２３～～",
        "\u200b\ufeff零宽",
        "\x01控制字符",
        "ﬁ连字 ǅ",
        "😀🙏 表情",
        "\r\n换行\r回车",
        "الْعَرَبِيَّة",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ]


@pytest.mark.slow
def test_the_lean_tokenizer_gives_tokenizers_ids_for_every_text(model_dir: Path) -> None:
    from tokenizers import Tokenizer

    from bot.unigram import UnigramTokenizer

    folder = model_dir / MODEL_NAME
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    reference.enable_truncation(max_length=256)
    lean = UnigramTokenizer(folder, 256)
    texts = _texts_residents_and_staff_write()
    assert len(texts) > 1000  # the folder and the evaluation sets were found
    differ = [t[:40] for t in texts if lean.encode(t) != reference.encode(t).ids]
    assert differ == []
    assert len(lean.encode("政" * 2000)) == 256  # truncated, <s> and </s> included


@pytest.mark.slow
def test_a_process_answering_with_the_bundled_model_stays_small(make_data_dir: Callable[..., Path]) -> None:
    """The encoder without ``tokenizers``' vocabulary trie: well under the 700 MB a worker may take."""
    data = make_data_dir()
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from bot.config import load_settings
        from bot.embeddings import load_embedder
        settings = load_settings(None, data=Path({str(data)!r}))
        embedder = load_embedder(settings.embedding, settings.data_dir)
        embedder.embed_query("低保怎么申请？")
        embedder.embed_documents(["申请最低生活保障，以家庭为单位。" * 40])
        # VmHWM, the process's own peak (ru_maxrss would carry the forking pytest process's)
        status = Path("/proc/self/status").read_text().splitlines()
        print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) // 1024)
        """
    )
    done = run_cli("-c", code)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip().splitlines()[-1]) < 300  # MB: 256 here; with tokenizers' trie ~450
