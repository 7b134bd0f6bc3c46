"""The bundled multilingual-e5-small on ONNX Runtime: its 4-bit graph, its own tokenizer, no torch.

Loading torch and sentence-transformers costs a process several seconds and ~700 MB more before
the first question; the graph written by :mod:`bot.model_convert` (see :mod:`bot.onnx_graph`)
loads in a fraction of a second and encodes a question several times faster on one core. This module imports neither: only
``onnxruntime``, numpy and :mod:`bot.unigram` (the model's tokenizer, without ``tokenizers``' 250 MB trie).

:class:`OnnxEncoder` has the slice of ``SentenceTransformer``'s interface that
:class:`bot.embeddings.SentenceEmbedder` uses (``encode``, ``get_embedding_dimension``, ``prompts``),
so both backends share the prompts, the lock and the micro-batching of concurrent queries. It does
what the sentence-transformers folder describes: truncate to ``max_seq_length`` tokens (special
tokens included), mean-pool the last hidden states over the tokens, L2-normalise; but it runs each
text alone (see :meth:`OnnxEncoder.encode`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.model_convert import ONNX_MODEL
from bot.unigram import UnigramTokenizer

logger = logging.getLogger(__name__)


class OnnxEncoder:
    """Sentence vectors from a converted model folder's ONNX graph, with ``threads`` CPU threads."""

    def __init__(self, folder: Path, threads: int = 1, model_file: str = ONNX_MODEL) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # threads bounds tokenising too
        import onnxruntime as ort

        config = _read_json(folder / "config.json")
        st_config = _read_json(folder / "sentence_bert_config.json")
        self.prompts: dict[str, str] = dict(
            _read_json(folder / "config_sentence_transformers.json").get("prompts", {})
        )
        self.dimension = int(config["hidden_size"])
        self.max_seq_length = int(st_config["max_seq_length"])
        self.tokenizer = UnigramTokenizer(
            folder, self.max_seq_length
        )  # tokenizer.json's ids, 1/10 the memory

        options = ort.SessionOptions()
        # One encode at a time (SentenceEmbedder's lock), each on `threads` threads: with 1 the
        # calling thread does all the work, so no thread pool spins or waits for a busy core.
        options.intra_op_num_threads = max(0, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: the runtime's warnings are not the resident's
        # No memory arena and no planned memory patterns: one short text at a time needs little
        # scratch memory, and the arena kept ~30 MB of it after the first long passage (peak RSS of
        # `ask --jsonl`; encode time within noise, 11.4 vs 11.9 ms for 20 tokens).
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        self.threads = threads
        self.session = ort.InferenceSession(
            str(folder / model_file), options, providers=["CPUExecutionProvider"]
        )
        logger.info("ONNX encoder %s, %s thread(s)", folder / model_file, threads or "default")

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """One row per sentence (in the given order), mean-pooled and, by default, L2-normalised.

        Each text runs alone; ``batch_size`` is accepted for the interface and ignored. On ONNX
        Runtime's 4-bit kernels that is the fastest way, with no padding to compute (one thread, 64
        knowledge chunks of 40-360 characters sorted by length: 28-31 passages/s one at a time,
        19-20 in batches of 8, 14-15 in batches of 32), and the vector is the same either way
        (activations are quantized per token).
        """
        del batch_size, convert_to_numpy, show_progress_bar  # one text per call, numpy, no progress bar
        out = np.zeros((len(sentences), self.dimension), np.float32)
        for row, sentence in enumerate(sentences):
            ids = np.array([self.tokenizer.encode(sentence)], np.int64)
            (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            out[row] = hidden[0].mean(axis=0)  # mean pooling: no padding, every token counts
        if normalize_embeddings and len(out):
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def _read_json(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object")
    return value
