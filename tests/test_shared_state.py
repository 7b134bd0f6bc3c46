"""Operating the shared state: `stats` from any data folder, `state migrate` from SQLite losing nothing,
the database URL's password never printed, an unreachable database reported in one line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.state.database import State
from bot.testing.postgres import PostgresCluster


def with_password(url: str) -> str:
    return url.replace("postgres@", "postgres:s3cret-pw@")


def fill(state: State) -> list[str]:
    """Rows of every kind, as a season of residents would leave them."""
    ids = []
    for n, (question, answered, channel) in enumerate(
        [
            ("低保怎么申请？", True, "private"),
            ("火星补贴？", False, "web"),
            ("结婚登记要带什么？", True, "group"),
        ]
    ):
        kind = "answer" if answered else "dont_know"
        ids.append(
            state.record_answer(
                user=state.user_hash(n), chat_type=channel, question=question, answered=answered, kind=kind
            )
        )
    state.vote(ids[0], state.user_hash(0), 1)
    state.vote(ids[2], state.user_hash(2), -1)
    state.log_event("handoff", state.user_hash(1))
    state.remember(state.chat_key(1), "低保怎么申请？")
    state.save_wizard(state.chat_key(1), '{"kind": "dibao", "step": "household"}')
    return ids


def stats_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["stats", "--json", *args]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_migrate_copies_everything_and_stats_reads_it_from_another_folder(
    tmp_path: Path,
    postgres: PostgresCluster,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = tmp_path / "old-data"
    ids = fill(State(old))
    before = stats_json(capsys, "--data", str(old))
    assert before == {
        "questions": 3,
        "answered": 2,
        "up": 1,
        "down": 1,
        "by_channel": {"group": 1, "private": 1, "web": 1},
    }

    url = with_password(postgres.new_database())
    assert main(["state", "migrate", "--to", url, "--data", str(old)]) == 0
    said = capsys.readouterr().err
    assert "questions 3" in said and "s3cret-pw" not in said

    monkeypatch.setenv("DATABASE_URL", url)
    elsewhere = tmp_path / "third-folder"
    assert stats_json(capsys, "--data", str(elsewhere)) == before
    shared = State(elsewhere, url=url)
    assert shared.user_hash(0) == State(old).user_hash(0)  # the salt came along: the same people
    assert shared.vote(ids[0], shared.user_hash(0), 1) == "duplicate"  # still one vote per person
    assert shared.history(shared.chat_key(1)) == ["低保怎么申请？"]
    assert shared.wizard(shared.chat_key(1)) == '{"kind": "dibao", "step": "household"}'
    assert shared.stats().handoffs == 1
    record = shared.answer(ids[1])
    assert record is not None and record.question == "火星补贴？" and record.kind == "dont_know"
    shared.remember(shared.chat_key(1), "要带户口本吗？")  # new rows go on after the copied ones
    assert shared.history(shared.chat_key(1)) == ["低保怎么申请？", "要带户口本吗？"]

    # A second migration into the same database would double every row: refused.
    assert main(["state", "migrate", "--to", url, "--data", str(old)]) == 1
    assert "已有记录" in capsys.readouterr().err
    assert stats_json(capsys, "--data", str(elsewhere))["questions"] == 3


def test_stats_since_a_date_and_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_now = [time.time() - 10 * 86400]
    state = State(tmp_path, clock=lambda: clock_now[0])
    state.record_answer(user="u", chat_type="private", question="旧", answered=True, kind="answer")
    clock_now[0] = time.time()
    state.record_answer(user="u", chat_type="web", question="新", answered=True, kind="answer")
    yesterday = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
    assert stats_json(capsys, "--data", str(tmp_path), "--since", yesterday)["by_channel"] == {"web": 1}
    assert main(["stats", "--data", str(tmp_path)]) == 0
    words = capsys.readouterr().out
    assert "提问 2 次" in words and "bot_state.sqlite" in words
    assert main(["stats", "--data", str(tmp_path), "--since", "yesterday"]) == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_an_unreachable_database_is_one_line_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.testing.ports import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://bot:s3cret-pw@127.0.0.1:{free_port()}/none")
    assert main(["stats", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("错误: 无法连接状态数据库") and "s3cret-pw" not in err and "Traceback" not in err
