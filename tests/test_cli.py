"""The command line as a user runs it: ``python -m bot ask | eval`` and ``python ingest.py``, in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.knowledge import KnowledgeBase, run_cli

pytestmark = pytest.mark.slow

ANSWER_KEYS = {"question", "answer", "answered", "sources", "latency_ms"}
SOURCE_KEYS = {"path", "title", "issued", "score"}


def folders(kb: KnowledgeBase) -> list[str]:
    return ["--knowledge", str(kb.knowledge), "--data", str(kb.data)]


def test_ask_jsonl_writes_one_json_line_per_input_line_in_order(ingested: KnowledgeBase) -> None:
    inputs = [
        {"question": "离婚冷静期有多长？"},
        {"question": "需要什么材料？"},
        {"question": "需要什么材料？", "history": ["离婚冷静期有多长？"]},
        '{"question": ',  # malformed JSON
        {"question": 5},
        {"question": "低保怎么申请？", "history": "不是列表"},
        {"question": "今天天气怎么样？"},
    ]
    lines = [item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in inputs]
    stdin = "\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n"  # a blank line is skipped

    result = run_cli("-m", "bot", "ask", "--jsonl", *folders(ingested), stdin=stdin)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(inputs)
    for item, got in zip(inputs, out, strict=True):
        if (
            isinstance(item, dict)
            and isinstance(item["question"], str)
            and isinstance(item.get("history", []), list)
        ):
            assert set(got) == ANSWER_KEYS
            assert got["question"] == item["question"]
            assert isinstance(got["answered"], bool)
            assert isinstance(got["latency_ms"], int | float) and got["latency_ms"] > 0
            assert isinstance(got["answer"], str) and got["answer"]
            for source in got["sources"]:
                assert set(source) == SOURCE_KEYS
                assert not Path(source["path"]).is_absolute()
                assert (ingested.knowledge / source["path"]).is_file()
                assert isinstance(source["score"], int | float)
        else:
            assert set(got) == {"line", "error"}, got
            assert got["error"].startswith("无法解析这一行")
    assert [o.get("line") for o in out] == [None, None, None, 5, 6, 7, None]  # input line numbers

    first, alone, follow_up, *_, weather = out
    assert first["answered"] and "30日" in first["answer"] and "来源" in first["answer"]
    assert first["sources"] and first["sources"][0]["issued"]
    assert not weather["answered"] and "12345" in weather["answer"]
    assert follow_up["answer"] != alone["answer"]  # the history is taken into account


def test_ask_prints_the_answer_with_its_sources(ingested: KnowledgeBase) -> None:
    result = run_cli("-m", "bot", "ask", "特困人员供养包括哪些内容？", *folders(ingested))
    assert result.returncode == 0, result.stderr
    assert "提供基本生活条件" in result.stdout
    assert "来源：" in result.stdout and "《" in result.stdout


EVAL_CASES = [
    {
        "id": "cooling-off",
        "type": "in_scope",
        "question": "离婚冷静期有多长？",
        "expected_docs": ["faq.md", "divorce-registration-cooling-off.md"],
        "must_include": [["30日", "30天"]],
    },
    {
        "id": "support",
        "type": "in_scope",
        "question": "特困人员供养包括哪些内容？",
        "expected_docs": ["extremely-poor-support.md"],
        "must_include": [["基本生活"]],
    },
    {"id": "weather", "type": "out_of_scope", "question": "今天天气怎么样？"},
]


def eval_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in EVAL_CASES) + "\n", encoding="utf-8")
    return path


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The printed markdown table: first cell -> the other cells."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in stdout.splitlines()]
    return {cells[0]: cells[1:] for cells in rows if len(cells) >= 2}


def test_eval_prints_the_scores(ingested: KnowledgeBase, tmp_path: Path) -> None:
    result = run_cli("-m", "bot", "eval", eval_file(tmp_path), *folders(ingested))

    assert result.returncode == 0, result.stderr
    assert "3 questions" in result.stdout
    rows = table_rows(result.stdout)
    assert rows.get("hit@1") == ["1.000"], result.stdout
    assert rows.get("hit@5") == ["1.000"]
    assert rows.get("out-of-scope refused") == ["1.000"]
    assert rows.get("adversarial handled") == ["—"]  # the set has no adversarial question: no figure


def test_eval_json_gives_no_figure_for_a_kind_of_question_the_set_lacks(
    ingested: KnowledgeBase, tmp_path: Path
) -> None:
    result = run_cli("-m", "bot", "eval", eval_file(tmp_path), "--json", *folders(ingested))

    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)["full pipeline"]
    assert scores["adversarial_ok"] is None
    assert scores["refused_out_of_scope"] == 1.0
    assert scores["counts"]["adversarial"] == 0


def test_eval_compare_sets_a_plain_langchain_baseline_beside_ours(
    ingested: KnowledgeBase, tmp_path: Path
) -> None:
    result = run_cli("-m", "bot", "eval", eval_file(tmp_path), "--compare", *folders(ingested))

    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows.get("figure") == [
        "BM25 only",
        "plain LangChain + Chroma",
        "ours, dense only",
        "full pipeline",
    ], result.stdout
    refused = dict(zip(rows["figure"], rows["out-of-scope refused"], strict=True))
    assert refused["plain LangChain + Chroma"] == "0.000"  # a plain setup answers the weather question
    assert refused["full pipeline"] == "1.000"
    hit5 = dict(zip(rows["figure"], rows["hit@5"], strict=True))
    assert hit5["plain LangChain + Chroma"] == "1.000"  # it does retrieve the obvious documents


# --- errors: one line, starting with 错误, non-zero exit, no traceback -------------------------------


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


ASK = ["-m", "bot", "ask", "低保怎么申请？"]
ERRORS = {
    "no index yet": (lambda t: [*ASK, "--data", t / "empty-data"], "还没有索引"),
    "unknown config key": (
        lambda t: [*ASK, "--config", config_file(t, "[retrieval]\nnot_a_key = 1\n")],
        "retrieval.not_a_key",
    ),
    "config value of the wrong type": (
        lambda t: [*ASK, "--config", config_file(t, '[retrieval]\ndense_k = "x"\n')],
        "retrieval.dense_k",
    ),
    "missing knowledge folder": (
        lambda t: ["ingest.py", "--knowledge", t / "no-such-folder", "--data", t / "data"],
        "知识库目录不存在",
    ),
    "missing config file": (lambda t: [*ASK, "--config", t / "nope.toml"], "nope.toml"),
    "ask without a question": (lambda t: ["-m", "bot", "ask", "--data", t / "empty-data"], "请给出问题"),
    "missing evaluation file": (
        lambda t: ["-m", "bot", "eval", t / "nope.jsonl", "--data", t / "d"],
        "评测文件不存在",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_user_errors_print_one_line_and_exit_non_zero(case: str, tmp_path: Path) -> None:
    make_args, expected = ERRORS[case]
    result = run_cli(*make_args(tmp_path), timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("错误") and expected in lines[0], lines[0]
    assert result.stdout == ""
