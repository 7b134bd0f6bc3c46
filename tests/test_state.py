"""Bot state: bounded persistent history, one vote per answer, hashed users, staff reports, rate limits."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.errors import UserError
from bot.state import schema
from bot.state.database import State
from bot.state.privacy import REDACTED, load_salt, redact
from bot.state.rate_limit import RateLimiter
from tests.helpers.backends import Backend


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_history_is_bounded_per_chat_and_survives_a_restart(tmp_path: Path, backend: Backend) -> None:
    state = backend.open(tmp_path, history_size=3)
    a, b = state.chat_key(1), state.chat_key(2)
    for q in ("一", "二", "三", "四"):
        state.remember(a, q)
    state.remember(b, "别的聊天")
    state.remember(a, "   ")  # blank: ignored
    assert state.history(a) == ["二", "三", "四"]
    state.close()

    again = backend.open(tmp_path, history_size=3)
    assert again.history(a) == ["二", "三", "四"]
    assert again.history(b) == ["别的聊天"]
    again.forget(a)
    assert again.history(a) == [] and again.history(b) == ["别的聊天"]
    with schema.engine(again.url).connect() as conn:
        rows = conn.execute(select(func.count()).select_from(schema.history)).scalar_one()
    assert rows == 1  # old rows are deleted, not just hidden


def test_old_questions_are_no_follow_up_context(tmp_path: Path, backend: Backend) -> None:
    clock = Clock()
    state = backend.open(tmp_path, clock=clock)
    chat = state.chat_key(1)
    state.remember(chat, "结婚登记要带什么材料？")
    clock.now += 3 * 3600
    state.remember(chat, "低保怎么申请？")
    clock.now += 60
    assert state.history(chat, max_age=3600) == ["低保怎么申请？"]
    assert state.history(chat) == ["结婚登记要带什么材料？", "低保怎么申请？"]


def test_group_members_have_separate_histories(tmp_path: Path, backend: Backend) -> None:
    state = backend.open(tmp_path)
    assert state.chat_key(-100, 1) != state.chat_key(-100, 2) != state.chat_key(-100)


def test_salt_is_random_private_and_stable(tmp_path: Path) -> None:
    first = load_salt(tmp_path / "one")
    assert (tmp_path / "one" / "salt").stat().st_mode & 0o777 == 0o600
    assert load_salt(tmp_path / "one") == first
    assert load_salt(tmp_path / "two") != first
    (tmp_path / "one" / "salt").chmod(0o644)
    load_salt(tmp_path / "one")
    assert (tmp_path / "one" / "salt").stat().st_mode & 0o777 == 0o600
    (tmp_path / "one" / "salt").write_text("")
    with pytest.raises(UserError, match="salt"):  # one 错误: line naming the file and the fix
        load_salt(tmp_path / "one")


def test_user_hashes_are_salted_sha256(tmp_path: Path, backend: Backend) -> None:
    one, two = backend.open(tmp_path / "a"), backend.open(tmp_path / "b")
    h = one.user_hash(777123456)
    assert len(h) == 64 and "777123456" not in h
    assert h == one.user_hash("777123456") and h != one.user_hash(777123457)
    assert h != two.user_hash(777123456)  # another installation cannot match our hashes


def test_one_vote_per_answer_and_person(tmp_path: Path, backend: Backend) -> None:
    state = backend.open(tmp_path)
    alice, bob = state.user_hash(1), state.user_hash(2)
    answer = state.record_answer(
        user=alice, chat_type="private", question="低保怎么申请？", answered=True, kind="answer"
    )
    assert len(answer) <= 12
    assert state.vote(answer, alice, 1) == "recorded"
    assert state.vote(answer, alice, 1) == "duplicate"
    assert state.vote(answer, alice, -1) == "duplicate"
    assert state.vote(answer, bob, -1) == "recorded"
    assert state.vote("nope", bob, 1) == "unknown"
    with pytest.raises(ValueError):
        state.vote(answer, bob, 5)
    stats = state.stats()
    assert (stats.up, stats.down) == (1, 1)


def test_votes_from_many_threads_count_once(tmp_path: Path, backend: Backend) -> None:
    state = backend.open(tmp_path)
    answer = state.record_answer(user="u", chat_type="private", question="q", answered=True, kind="answer")
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(state.vote(answer, "same-user", 1))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate"] * 7 + ["recorded"]


def test_answer_records_for_the_source_button(tmp_path: Path, backend: Backend) -> None:
    state = backend.open(tmp_path)
    answer_id = state.record_answer(
        user="u",
        chat_type="private",
        question="结婚要带什么？",
        answered=True,
        kind="answer",
        source_path="marriage.md",
        source_heading="结婚登记办事指南 › 四、材料",
        source_title="结婚登记办事指南",
    )
    record = state.answer(answer_id)
    assert record is not None
    assert (record.source_path, record.source_heading, record.source_title) == (
        "marriage.md",
        "结婚登记办事指南 › 四、材料",
        "结婚登记办事指南",
    )
    assert state.answer("unknown") is None


def test_stats_and_unanswered_most_frequent_first(tmp_path: Path, backend: Backend) -> None:
    clock = Clock()
    state = backend.open(tmp_path, clock=clock)

    def ask(question: str, answered: bool, kind: str = "dont_know") -> None:
        state.record_answer(user="u", chat_type="private", question=question, answered=answered, kind=kind)
        clock.now += 60

    clock.now -= 40 * 86400
    ask("很久以前的问题", False)  # outside the 30-day window
    clock.now += 40 * 86400
    ask("火星补贴怎么领？", False)
    ask("低保怎么申请？", True, "answer")
    ask("养老保险怎么交？", False, "other_department")  # answered elsewhere: not a knowledge gap
    ask("宠物证怎么办？", False)
    ask("火星补贴怎么领？", False)
    state.log_event("handoff", "u")

    rows = state.unanswered(days=30)
    assert [(r.question, r.count) for r in rows] == [("火星补贴怎么领？", 2), ("宠物证怎么办？", 1)]
    stats = state.stats()
    assert (stats.total, stats.week, stats.answered, stats.handoffs) == (6, 5, 1, 1)
    assert stats.answered_share == pytest.approx(1 / 6)

    state.prune(keep_days=30)
    assert state.stats().total == 5


def test_phone_and_id_numbers_are_redacted_but_not_dates_or_the_hotline() -> None:
    assert redact("我电话13812345678，低保怎么申请？") == f"我电话{REDACTED}，低保怎么申请？"
    assert redact("身份证44150219900101123X") == f"身份证{REDACTED}"
    assert redact("138 1234 5678") == REDACTED
    assert (
        redact("2025-05-10以后要带户口本吗？拨12345，标准1030元")
        == "2025-05-10以后要带户口本吗？拨12345，标准1030元"
    )


def test_stored_questions_and_history_hold_no_raw_numbers(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.record_answer(
        user=state.user_hash(777123456),
        chat_type="private",
        question="我电话13812345678",
        answered=False,
        kind="dont_know",
    )
    state.remember(state.chat_key(777123456), "我电话13812345678")
    state.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot_state"))
    assert b"13812345678" not in raw and b"777123456" not in raw
    assert (tmp_path / "bot_state.sqlite").stat().st_mode & 0o077 == 0


def test_rate_limiter_sliding_window_warns_once() -> None:
    clock = Clock(0.0)
    limiter = RateLimiter(2, window=60, clock=clock)
    assert limiter.check("a").allowed
    clock.now = 30
    assert limiter.check("a").allowed
    refused = limiter.check("a")
    assert not refused.allowed and refused.warn and refused.retry_after == pytest.approx(30)
    assert limiter.check("a") == limiter.check("a") and not limiter.check("a").warn  # quiet afterwards
    assert limiter.check("b").allowed  # per user
    clock.now = 60  # the first event left the window
    assert limiter.check("a").allowed
    assert not limiter.check("a").allowed
    clock.now = 200
    assert limiter.check("a").allowed and limiter.check("a").allowed
    verdict = limiter.check("a")
    assert not verdict.allowed and verdict.warn  # a new burst gets a new notice


def test_rate_limiter_can_be_switched_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.check("a").allowed for _ in range(100))


def test_a_state_file_from_before_migrations_is_adopted_with_every_row(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "bot_state.sqlite")
    old.executescript(OLD_SCHEMA)
    old.execute(
        "INSERT INTO questions VALUES ('a1', 1.7e9, 'u', 'private', '低保怎么申请？', 1, 'answer', 'p.md', 'h', 't', 12)"
    )
    old.execute("INSERT INTO feedback VALUES ('a1', 'u', -1, 1.7e9)")
    old.execute("INSERT INTO history (chat, question, at) VALUES ('c', '低保怎么申请？', 1.7e9)")
    old.execute("INSERT INTO wizards VALUES ('c', '{\"kind\": \"dibao\"}', 1.7e9)")
    old.commit()
    old.close()
    state = State(tmp_path)
    assert state.stats().total == 1 and state.stats().down == 1
    assert state.history("c") == ["低保怎么申请？"] and state.wizard("c") == '{"kind": "dibao"}'
    record = state.answer("a1")
    assert record is not None and record.source_path == "p.md"
    assert state.vote("a1", "v", 1) == "recorded"  # and it keeps working
    version = sqlite3.connect(tmp_path / "bot_state.sqlite").execute(
        "SELECT version_num FROM alembic_version"
    )
    assert version.fetchone()[0] == "0003"


def test_stats_by_channel_and_since_a_date(tmp_path: Path, backend: Backend) -> None:
    clock = Clock()
    state = backend.open(tmp_path, clock=clock)
    old = state.record_answer(user="u", chat_type="private", question="旧", answered=True, kind="answer")
    state.vote(old, "u", 1)
    clock.now += 86400
    since = clock.now
    new = state.record_answer(user="u", chat_type="web", question="新", answered=False, kind="dont_know")
    state.record_answer(user="v", chat_type="web", question="新2", answered=True, kind="answer")
    state.vote(new, "u", -1)
    every = state.stats()
    assert (every.total, every.answered, every.up, every.down) == (3, 2, 1, 1)
    assert every.by_channel == {"private": 1, "web": 2}
    recent = state.stats(since=since)
    assert (recent.total, recent.answered, recent.up, recent.down) == (2, 1, 0, 1)
    assert recent.by_channel == {"web": 2}


def test_two_workers_on_one_database_share_salt_rows_and_the_rate_limit(
    tmp_path: Path, postgres: Any
) -> None:
    url = postgres.new_database()
    one, two = State(tmp_path / "w1", url=url), State(tmp_path / "w2", url=url)
    assert one.user_hash(42) == two.user_hash(42) and one.chat_key(7) == two.chat_key(7)
    assert not (tmp_path / "w1" / "salt").exists()  # the salt lives in the database
    answer = one.record_answer(
        user=one.user_hash(42), chat_type="private", question="q", answered=True, kind="answer"
    )
    assert two.vote(answer, two.user_hash(42), 1) == "recorded"
    assert one.vote(answer, one.user_hash(42), 1) == "duplicate"
    one.remember(one.chat_key(7), "结婚登记")
    assert two.history(two.chat_key(7)) == ["结婚登记"]
    first, second = one.rate_limiter("telegram", 2), two.rate_limiter("telegram", 2)
    assert first.check("who").allowed and second.check("who").allowed
    refused = first.check("who")
    assert not refused.allowed and refused.warn and 0 < refused.retry_after <= 60
    assert not second.check("who").allowed  # the other worker agrees
    assert first.check("someone else").allowed
    with schema.engine(url).connect() as conn:
        keys = {k for (k,) in conn.execute(select(schema.rate_hits.c.key))}
    assert "who" not in keys and len(keys) == 2  # hashed


def test_a_chat_turn_is_held_by_one_worker_at_a_time(tmp_path: Path, postgres: Any) -> None:
    url = postgres.new_database()
    one, two = State(tmp_path / "w1", url=url), State(tmp_path / "w2", url=url)
    chat = one.chat_key(7)
    mine, theirs = one.chat_turn(chat), two.chat_turn(chat)
    assert mine is not None and theirs is not None
    assert mine.try_take() and not theirs.try_take()
    other = two.chat_turn(two.chat_key(8))
    assert other is not None and other.try_take()  # another chat is not held up
    mine.release()
    assert theirs.try_take()
    theirs.release()
    other.release()
    assert State(tmp_path / "lite").chat_turn(chat) is None  # SQLite: one worker, its own lock

    clock = Clock()
    three = State(tmp_path / "w3", url=url, clock=clock)
    dead, alive = three.chat_turn(chat, lease=30), three.chat_turn(chat, lease=30)
    assert dead is not None and alive is not None
    assert dead.try_take() and not alive.try_take()  # a worker died holding the turn …
    clock.now += 31
    assert alive.try_take()  # … its lease ran out


OLD_SCHEMA = """
CREATE TABLE history (chat TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, question TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX history_chat ON history (chat, seq);
CREATE TABLE questions (id TEXT PRIMARY KEY, at REAL NOT NULL, user TEXT NOT NULL, chat_type TEXT NOT NULL,
    question TEXT NOT NULL, answered INTEGER NOT NULL, kind TEXT NOT NULL, source_path TEXT NOT NULL DEFAULT '',
    source_heading TEXT NOT NULL DEFAULT '', source_title TEXT NOT NULL DEFAULT '', latency_ms REAL NOT NULL DEFAULT 0);
CREATE INDEX questions_at ON questions (at);
CREATE TABLE feedback (answer_id TEXT NOT NULL, user TEXT NOT NULL, vote INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (answer_id, user));
CREATE TABLE events (at REAL NOT NULL, kind TEXT NOT NULL, user TEXT NOT NULL);
CREATE TABLE wizards (chat TEXT PRIMARY KEY, state TEXT NOT NULL, at REAL NOT NULL);
"""
