"""The model's Unigram tokenizer in a tenth of the memory: the same ids as ``tokenizers``, tie for tie.

``tokenizers`` keeps XLM-R's 250,002 pieces in a byte trie of hash maps: 250 MB of a serving
process that otherwise needs about 450 MB, and the reason `ask --jsonl` peaked above 700 MB.
A query is short, so the lattice can be walked with plain dictionary look-ups instead
(a 100-character question: ~1,600 look-ups, well under a millisecond, against ~10 ms to encode it).

What stays with ``tokenizers`` is everything but the vocabulary: the normaliser and the Metaspace
pre-tokeniser are read from ``onnx/text_steps.json`` (a tokenizer with a one-piece vocabulary,
written by :mod:`bot.model_convert`), so the text is prepared by the library itself. The pieces
come from ``onnx/pieces.txt`` (one a line, in id order) and their scores from ``onnx/scores.npy``.

Invariants, each checked against ``tokenizers`` by ``tests/test_onnx_encoder.py``:

* special tokens (``<s>`` …) written in the text are matched before normalisation, as
  ``tokenizers``' added vocabulary does;
* Viterbi over character positions; of equal-scoring paths the one whose last piece starts
  earliest wins (a later candidate must score strictly higher), as in ``Unigram::encode_optimized``;
* a character no piece covers costs ``min(score) - 10`` and consecutive ones fuse into one ``<unk>``;
* truncation keeps the first ``max_length - 2`` pieces, then ``<s> … </s>`` as the post-processor adds.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

PIECES_FILE = "onnx/pieces.txt"  # one piece a line, in id order
SCORES_FILE = "onnx/scores.npy"  # their log-probabilities, float64
STEPS_FILE = "onnx/text_steps.json"
UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


class UnigramTokenizer:
    """Token ids for one text at a time, with ``<s>``/``</s>`` around them and at most ``max_length``."""

    def __init__(self, folder: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        steps = Tokenizer.from_file(str(folder / STEPS_FILE))
        if steps.normalizer is None or steps.pre_tokenizer is None:
            raise ValueError(f"{folder / STEPS_FILE} lacks a normalizer or a pre-tokenizer")
        self._normalizer = steps.normalizer
        self._pre_tokenizer = steps.pre_tokenizer
        self.max_length = max_length
        pieces = (folder / PIECES_FILE).read_text(encoding="utf-8").split("\n")[:-1]
        self._scores: list[float] = np.load(folder / SCORES_FILE, allow_pickle=False).tolist()
        if len(pieces) != len(self._scores):
            raise ValueError(f"{folder / PIECES_FILE} and {folder / SCORES_FILE} disagree")
        self._ids = {piece: number for number, piece in enumerate(pieces)}  # piece -> id
        self._longest = max(map(len, self._ids))
        self._specials = {token: self._ids[token] for token in SPECIALS}
        self._unk = self._specials["<unk>"]
        self._unk_score = min(self._scores) - UNK_PENALTY
        self._split = re.compile("(" + "|".join(re.escape(token) for token in SPECIALS) + ")")

    def encode(self, text: str) -> list[int]:
        """``<s>``, the text's pieces (truncated), ``</s>``."""
        ids: list[int] = []
        for part in self._split.split(text):
            if part in self._specials:
                ids.append(self._specials[part])
            elif part:
                normalized = self._normalizer.normalize_str(part)
                for word, _ in self._pre_tokenizer.pre_tokenize_str(normalized):
                    ids += self._segment(word)
        return [self._specials["<s>"], *ids[: self.max_length - 2], self._specials["</s>"]]

    def _segment(self, word: str) -> list[int]:
        """The best-scoring split of ``word`` into pieces (Viterbi), as ids."""
        size = len(word)
        score = [0.0] + [0.0] * size
        start: list[int | None] = [0] + [None] * size  # where the best path's last piece starts
        piece_id = [0] * (size + 1)
        for begin in range(size):
            so_far = score[begin]
            for end in range(begin + 1, min(size, begin + self._longest) + 1):
                found = self._ids.get(word[begin:end])
                if found is None:
                    continue
                candidate = so_far + self._scores[found]
                if start[end] is None or candidate > score[end]:
                    score[end], start[end], piece_id[end] = candidate, begin, found
            if word[begin : begin + 1] not in self._ids:
                candidate = so_far + self._unk_score
                if start[begin + 1] is None or candidate > score[begin + 1]:
                    score[begin + 1], start[begin + 1], piece_id[begin + 1] = candidate, begin, self._unk
        out: list[int] = []
        end, unknown_run = size, False
        while end > 0:
            first = start[end]
            assert first is not None  # every position is reached: an unknown character still advances
            if piece_id[end] == self._unk:
                if not unknown_run:  # a run of unknown characters is one <unk>
                    out.append(self._unk)
                unknown_run = True
            else:
                out.append(piece_id[end])
                unknown_run = False
            end = first
        out.reverse()
        return out
