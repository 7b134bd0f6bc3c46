"""Command line: ``python -m bot run | chat | ask | eval | ingest | web | wechat | admin | report | stats | state``.

Logging is configured here, once. Errors a user can cause print one line and exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import messages
from bot.config import Settings, load_settings

if TYPE_CHECKING:
    from bot.answering.assistant import Assistant
from bot.errors import UserError, data_fault

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--knowledge", type=Path, help="knowledge folder (default: from config.toml)")
    common.add_argument(
        "--data", type=Path, help="data folder for the index and model (default: from config.toml)"
    )
    common.add_argument("--config", type=Path, help="config file (default: config.toml in the repository)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    parser = argparse.ArgumentParser(prog="python -m bot", description="汕尾民政问答助手")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", parents=[common], help="ingest if needed, then Telegram (TELEGRAM_BOT_TOKEN) or console"
    )
    run.add_argument("--no-ingest", action="store_true", help="do not ingest even if the index is stale")
    sub.add_parser("chat", parents=[common], help="interactive console chat")
    ask = sub.add_parser("ask", parents=[common], help="answer one question, or JSON lines from stdin")
    ask.add_argument("question", nargs="?", help="the question")
    ask.add_argument("--jsonl", action="store_true", help='read {"question", "history"} lines from stdin')
    ask.add_argument("--history", action="append", default=[], help="an earlier question (repeatable)")
    ev = sub.add_parser("eval", parents=[common], help="score an evaluation set")
    ev.add_argument("file", type=Path, nargs="+", help="JSON lines evaluation file(s)")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.add_argument(
        "--compare",
        action="store_true",
        help="BM25 only, a plain LangChain + Chroma baseline, our dense only and the full pipeline side by side",
    )
    ev.add_argument("--failures", action="store_true", help="list the questions that missed")
    ev.add_argument(
        "--calibrate", action="store_true", help="fit the answer/refuse model, print config lines"
    )
    ev.add_argument(
        "--fit-answers",
        action="store_true",
        help="fit the weights that score answer units, print config lines",
    )
    ev.add_argument(
        "--also",
        nargs=3,
        action="append",
        default=[],
        metavar=("KNOWLEDGE", "DATA", "FILE"),
        help="with --fit-answers: fit on this folder's questions too (repeatable)",
    )
    ing = sub.add_parser("ingest", parents=[common], help="embed the knowledge folder into the index")
    ing.add_argument(
        "--rebuild", action="store_true", help="drop the index and the vector cache, embed everything"
    )
    ing.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    ing.add_argument("--quiet", action="store_true", help="no progress bars")
    ing.add_argument(
        "--json",
        action="store_true",
        help="progress and the report as JSON lines on stdout (the console uses it)",
    )
    web = sub.add_parser("web", parents=[common], help="serve the web page and JSON API (uvicorn)")
    web.add_argument("--host", help="address to listen on (default: [web] host, 127.0.0.1)")
    web.add_argument("--port", type=int, help="port to listen on (default: [web] port, 8080)")
    wx = sub.add_parser(
        "wechat", parents=[common], help="serve the WeChat Official Account callback /wechat (WECHAT_TOKEN)"
    )
    wx.add_argument("--host", help="address to listen on (default: [wechat] host, 127.0.0.1)")
    wx.add_argument("--port", type=int, help="port to listen on (default: [wechat] port, 8082)")
    _admin_parsers(sub, common)
    rep = sub.add_parser(
        "report", parents=[common], help="what residents asked: unanswered questions and 👎 answers"
    )
    rep.add_argument(
        "--since", help="from this date on, YYYY-MM-DD (default: the last [telegram] unanswered_days)"
    )
    rep.add_argument(
        "--csv", action="store_true", help="CSV (UTF-8 with BOM, opens in Excel) instead of text"
    )
    st = sub.add_parser("stats", parents=[common], help="what /stats shows, from the configured state store")
    st.add_argument("--json", action="store_true", help="questions, answered, up, down, by_channel as JSON")
    st.add_argument("--since", help="only questions asked from this date on, YYYY-MM-DD")
    state = sub.add_parser("state", parents=[common], help="the state store: migrate --to URL")
    state_sub = state.add_subparsers(dest="state_command", required=True)
    mig = state_sub.add_parser(
        "migrate",
        parents=[_options_again()],
        help="copy this data folder's SQLite state into a shared database",
    )
    mig.add_argument(
        "--to", required=True, metavar="URL", help="e.g. postgresql+psycopg://bot@127.0.0.1/shanwei"
    )
    return parser


def _options_again() -> argparse.ArgumentParser:
    """A sub-command repeats the folder options without defaults, so they may stand on either side of it."""
    again = argparse.ArgumentParser(add_help=False)
    for flag in ("--knowledge", "--data", "--config"):
        again.add_argument(flag, type=Path, default=argparse.SUPPRESS)
    again.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    return again


def _admin_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """``admin [--host] [--port]`` serves the staff console; ``admin add-user NAME`` creates an account."""
    adm = sub.add_parser(
        "admin", parents=[common], help="serve the staff console (documents, ingest, try it)"
    )
    adm.add_argument("--host", help="address to listen on (default: [admin] host, 127.0.0.1)")
    adm.add_argument("--port", type=int, help="port to listen on (default: [admin] port, 8081)")
    again = _options_again()
    actions = adm.add_subparsers(dest="admin_command")
    add = actions.add_parser(
        "add-user", parents=[again], help="create a staff account or set its password (read from stdin)"
    )
    add.add_argument("name", help="the user name (letters, digits, . _ -)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    settings: Settings | None = None
    try:
        settings = load_settings(args.config, knowledge=args.knowledge, data=args.data)
        return int(_dispatch(args, settings) or 0)
    except UserError as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a full disk, a read-only mount, a damaged database: one line, not a traceback
        fault: object = data_fault(exc, settings.data_dir) if settings is not None else None
        fault = fault or (_database_fault(exc, settings) if settings is not None else None)
        if fault is None:
            raise
        logger.debug("data folder fault", exc_info=exc)
        print(f"错误: {fault}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "ingest":
        if args.json:
            return _ingest_json(settings, rebuild=args.rebuild, dry_run=args.dry_run)
        return _ingest(settings, rebuild=args.rebuild, dry_run=args.dry_run, quiet=args.quiet)
    if args.command == "admin":
        return _admin(args, settings)
    if args.command == "report":
        from bot.channels.admin.asked import print_report

        return print_report(settings, since=args.since, csv_out=args.csv)
    if args.command == "ask":
        return _ask(args, settings)
    if args.command == "stats":
        from bot.state.operations import print_stats

        return print_stats(settings, since=args.since, as_json=args.json)
    if args.command == "state":
        from bot.state.operations import print_migrate

        return print_migrate(settings, args.to)
    if args.command == "eval":
        from bot.evaluation import run_eval

        return run_eval(
            settings,
            args.file,
            as_json=args.json,
            compare=args.compare,
            failures=args.failures,
            calibrate_only=args.calibrate,
            fit_only=args.fit_answers,
            also=[(Path(k), Path(d), Path(f)) for k, d, f in args.also],
        )
    if args.command == "chat":
        from bot.channels.console import chat

        return chat(_assistant(settings))
    if args.command == "run":
        return _run(args, settings)
    if args.command == "web":
        from bot.channels.web.app import serve

        return serve(_assistant(settings), settings, host=args.host, port=args.port)
    if args.command == "wechat":
        from bot.channels.wechat.app import serve as serve_wechat
        from bot.channels.wechat.env import WeChatEnv

        WeChatEnv.from_environ()  # a missing token is one clear line, before the model loads
        return serve_wechat(_assistant(settings), settings, host=args.host, port=args.port)
    raise AssertionError(args.command)


def _ingest(settings: Settings, *, rebuild: bool = False, dry_run: bool = False, quiet: bool = False) -> int:
    from bot.ingest.indexing import ingest

    report = ingest(settings, rebuild=rebuild, dry_run=dry_run, progress=not quiet and sys.stderr.isatty())
    print(report.summary())
    return 0 if report.usable else 1


def _ingest_json(settings: Settings, *, rebuild: bool = False, dry_run: bool = False) -> int:
    """The ingest for a program: one JSON line per file read or batch embedded, then the report (or the error)."""
    from bot.ingest.indexing import ingest

    def emit(event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def listener(stage: str, done: int, total: int, path: str) -> None:
        emit({"event": "progress", "stage": stage, "done": done, "total": total, "path": path})

    try:
        report = ingest(settings, rebuild=rebuild, dry_run=dry_run, progress=False, listener=listener)
    except UserError as exc:
        emit({"event": "error", "message": str(exc)})
        return 1
    emit({"event": "report", "report": report.as_json()})
    return 0 if report.usable else 1


def _admin(args: argparse.Namespace, settings: Settings) -> int:
    if args.admin_command == "add-user":
        from bot.channels.admin.accounts import add_user_from_stdin

        return add_user_from_stdin(settings, args.name)
    from bot.answering.assistant import Assistant
    from bot.channels.admin.app import serve as serve_admin

    # No index yet is fine: staff upload the first documents and ingest them from the console.
    return serve_admin(Assistant(settings), settings, config=args.config, host=args.host, port=args.port)


def _assistant(settings: Settings) -> Assistant:
    from bot.answering.assistant import Assistant

    assistant = Assistant(settings)
    assistant.index()  # fail now, with one clear line, if there is no index
    return assistant


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answering.assistant import Assistant

    assistant = Assistant(settings)
    if not args.jsonl:
        if not args.question:
            raise UserError(
                '请给出问题，例如: python -m bot ask "结婚登记要带什么材料？"，或用 --jsonl 从标准输入读取'
            )
        print(assistant.ask(args.question, args.history).render())
        return 0
    assistant.warm_up()
    for line_no, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = item["question"] if isinstance(item, dict) else None
            if not isinstance(question, str):
                raise ValueError("question must be a string")
            history = item.get("history") or []
            if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
                raise ValueError("history must be a list of strings")
        except (ValueError, KeyError, TypeError) as exc:
            out = {"line": line_no, "error": f"无法解析这一行: {exc}"}
        else:
            out = _ask_line(assistant, line_no, question, history)
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def _ask_line(assistant: Assistant, line_no: int, question: str, history: list[str]) -> dict[str, object]:
    """One ``ask --jsonl`` answer; a question that fails is an error line, and the next line is read."""
    try:
        return assistant.ask(question, history).as_json()
    except UserError:  # no index, the store is gone: every later line would fail the same way
        raise
    except Exception as exc:
        logger.error("ask --jsonl line %d failed: %s", line_no, type(exc).__name__)
        logger.debug("ask --jsonl line %d", line_no, exc_info=exc)
        return {"line": line_no, "error": messages.ASK_LINE_FAILED.format(error=type(exc).__name__)}


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ingest.indexing import is_stale

    if not args.no_ingest and is_stale(settings):
        print("知识库有变化或尚未建立索引，正在导入…", file=sys.stderr)
        _ingest(settings, quiet=not sys.stderr.isatty())
    assistant = _assistant(settings)
    if os.environ.get("TELEGRAM_BOT_TOKEN"):
        from bot.channels.telegram.app import run_bot

        return int(run_bot(assistant, settings))
    from bot.channels.console import chat

    return chat(assistant)


def _database_fault(exc: Exception, settings: Settings) -> str | None:
    """The shared state database cannot be reached: one line naming it (never its password)."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import OperationalError

    from bot import staff_messages
    from bot.state.schema import redacted

    if not isinstance(exc, OperationalError) or not settings.database_url:
        return None
    error = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return staff_messages.DATABASE_UNREACHABLE.format(url=redacted(settings.database_url), error=error)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        for noisy in ("httpx", "chromadb", "sentence_transformers", "jieba", "langchain_core"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
