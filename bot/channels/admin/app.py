"""The staff console: a FastAPI app under ``/admin`` (its own listener, 127.0.0.1 by default), run by uvicorn.

The page (``static/``: one HTML file, one script, one style sheet; nothing from other hosts) and
independent checks use the same JSON API:

* ``POST /admin/api/login`` ``{"username", "password"}`` → session cookie + ``{"csrf": TOKEN}``;
  ``POST /admin/api/logout``; ``GET /admin/api/me``.
* ``GET /admin/api/documents`` → ``[{"path", "title", "issued", "category", "status", "reason", …}]``;
  ``POST /admin/api/documents`` (multipart: ``file`` one or more times, optional ``path``) uploads or
  replaces; ``DELETE /admin/api/documents/{path}`` moves a file to the trash; ``PATCH
  /admin/api/documents/{path}`` sets its title / category / issued / source; ``GET /admin/api/trash``,
  ``POST /admin/api/trash/{id}/restore``.
* ``POST /admin/api/ingest`` → ``{"job": ID}``; ``GET /admin/api/ingest/{ID}`` → ``{"state", "report", …}``.
* ``POST /admin/api/try`` ``{"question"}`` → the ``ask --jsonl`` line plus ``"ranking"``.
* ``GET /admin/api/asked[.csv]?since=DATE``; ``POST /admin/api/faq`` ``{"question", "answer"}``.
* ``GET`` / ``PUT /admin/api/standards``; ``GET /admin/api/audit``.

Every request but the login needs the session cookie; every one that changes something also needs
``X-CSRF-Token``. Refusals change nothing and say why (``{"error", "message"}``).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.answering.assistant import Assistant
from bot.channels.admin import asked, audit, explain, standards_form, strings
from bot.channels.admin.accounts import Accounts
from bot.channels.admin.documents import BadPath, Folder, clean_path
from bot.channels.admin.guard import BodyLimit, SecurityHeaders, TooLarge
from bot.channels.admin.jobs import Job, Jobs
from bot.channels.admin.sessions import COOKIE, CSRF_HEADER, Session, Sessions
from bot.config import Settings
from bot.errors import UserError
from bot.state.database import State

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_FILES = 50


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class QuestionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: str = Field(min_length=1, max_length=2000)


class FaqRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: str = Field(min_length=1, max_length=400)
    answer: str = Field(min_length=1, max_length=4000)


class DetailsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    issued: str | None = Field(default=None, max_length=32)
    source: str | None = Field(default=None, max_length=200)
    sample: bool | None = None


class StandardsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    standards: dict[str, Any]


class Refused(Exception):
    """A request refused with a status and a sentence for the clerk."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _session(request: Request) -> Session:
    """The logged-in staff member, or 401."""
    found = request.app.state.sessions.get(request.cookies.get(COOKIE))
    if found is None:
        raise Refused(401, "login_required", strings.LOGIN_REQUIRED)
    return found  # type: ignore[no-any-return]


def _changing(request: Request, who: Annotated[Session, Depends(_session)]) -> Session:
    """The logged-in staff member of a request that changes something: it must carry the CSRF token, or 403."""
    if not Sessions.csrf_ok(who, request.headers.get(CSRF_HEADER)):
        logger.warning("admin: %s %s refused: no valid CSRF token", request.method, request.url.path)
        raise Refused(403, "csrf", strings.CSRF_FAILED)
    return who


Reader = Annotated[Session, Depends(_session)]
Writer = Annotated[Session, Depends(_changing)]


def render_page() -> str:
    """index.html with the title and the UI strings (a JSON data block, "<" escaped)."""
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    ui = json.dumps(strings.UI | {"actions": strings.ACTIONS}, ensure_ascii=False)
    ui = ui.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return template.replace("{{TITLE}}", html.escape(strings.TITLE)).replace("{{UI_STRINGS}}", ui)


def create_app(
    assistant: Assistant,
    settings: Settings,
    state: State,
    *,
    config: Path | None = None,
    jobs: Jobs | None = None,
) -> FastAPI:
    """The console app; ingests run as child processes (see :mod:`bot.channels.admin.jobs`)."""
    cfg = settings.admin
    data = settings.data_dir
    accounts = Accounts(data)
    sessions = Sessions(cfg)
    files = Folder(settings.knowledge_dir, data)

    def reload_after(job: Job) -> None:
        if job.state == "done":
            try:
                assistant.reload()
            except UserError as exc:
                logger.warning("after ingest, the index is not usable: %s", exc)

    jobs = jobs or Jobs(settings, config, on_done=reload_after)
    page = render_page()
    upload_limit = cfg.max_upload_mb * 1024 * 1024

    app = FastAPI(title=strings.TITLE, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, upload_path="/admin/api/documents", upload_bytes=upload_limit)
    app.add_middleware(SecurityHeaders)
    app.mount("/admin/static", StaticFiles(directory=STATIC_DIR), name="admin-static")

    # --- errors ----------------------------------------------------------------------------------

    @app.exception_handler(Refused)
    async def on_refused(request: Request, exc: Refused) -> JSONResponse:
        return error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(TooLarge)
    async def on_too_large(request: Request, exc: TooLarge) -> JSONResponse:
        return error(
            413, "too_large", strings.TOO_LARGE.format(mb=cfg.max_upload_mb), {"connection": "close"}
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error(400, "bad_json", strings.BAD_JSON)
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return error(
            422, "bad_request", strings.BAD_REQUEST.format(detail=f"{where}: {first.get('msg', '')}")
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return error(405, "method_not_allowed", strings.METHOD_NOT_ALLOWED)
        if exc.status_code == 404:
            return error(404, "not_found", strings.NOT_FOUND)
        return error(exc.status_code, "bad_request", strings.BAD_REQUEST.format(detail=exc.detail))

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("admin request failed: %s %s", request.method, request.url.path)
        response = error(500, "internal", strings.INTERNAL)
        SecurityHeaders.apply(response)
        return response

    app.state.sessions = sessions

    def note(who: Session | str, action: str, target: str = "", detail: str = "") -> None:
        audit.record(data, who if isinstance(who, str) else who.user, action, target, detail)

    async def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    # --- the page --------------------------------------------------------------------------------------

    @app.get("/admin", include_in_schema=False)
    async def to_page() -> RedirectResponse:
        return RedirectResponse("/admin/", status_code=308)

    @app.api_route("/admin/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    # --- logins ----------------------------------------------------------------------------------------

    @app.post("/admin/api/login")
    async def login(request: Request) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Refused(415, "json_only", strings.LOGIN_JSON_ONLY)  # a cross-site form cannot send JSON
        body = LoginRequest.model_validate_json(await request.body())
        client = request.client.host if request.client else "unknown"
        minutes = cfg.login_window_minutes
        limited = {"retry-after": str(minutes * 60)}
        if sessions.failures.locked(body.username, client):
            note(body.username[:32] or "?", "login_failed", detail="limited")
            raise Refused(429, "rate_limited", strings.LOGIN_LIMITED.format(minutes=minutes), limited)
        if not await off_loop(accounts.verify, body.username, body.password):
            sessions.failures.add(body.username, client)
            note(body.username[:32] or "?", "login_failed")
            raise Refused(401, "login_failed", strings.LOGIN_FAILED)
        token, new = sessions.start(body.username)
        note(new.user, "login")
        response = JSONResponse({"csrf": new.csrf, "user": new.user})
        response.set_cookie(
            COOKIE,
            token,
            max_age=cfg.session_minutes * 60,
            path="/admin",
            httponly=True,
            samesite="strict",
            secure=cfg.secure_cookie,
        )
        return response

    @app.post("/admin/api/logout")
    async def logout(request: Request, who: Writer) -> JSONResponse:
        sessions.end(request.cookies.get(COOKIE))
        note(who, "logout")
        response = JSONResponse({"status": "ok"})
        response.delete_cookie(
            COOKIE, path="/admin", httponly=True, samesite="strict", secure=cfg.secure_cookie
        )
        return response

    @app.get("/admin/api/me")
    async def me(who: Reader) -> JSONResponse:
        return JSONResponse({"user": who.user, "csrf": who.csrf, "faq_file": cfg.faq_file})

    # --- documents ---------------------------------------------------------------------------------------

    @app.get("/admin/api/documents")
    async def documents(who: Reader) -> JSONResponse:
        rows = await off_loop(files.rows)
        return JSONResponse([r.__dict__ for r in rows])

    @app.post("/admin/api/documents")
    async def upload(request: Request, who: Writer) -> JSONResponse:
        form = await request.form(max_files=MAX_FILES, max_fields=10)
        uploads = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
        if not uploads:
            raise Refused(400, "no_file", strings.NO_FILE)
        target = str(form.get("path") or "").strip()
        try:
            names = [_target(target, u.filename or "", len(uploads)) for u in uploads]
        except BadPath as exc:
            note(
                who, "upload", target or ",".join(u.filename or "" for u in uploads)[:200], f"refused: {exc}"
            )
            raise Refused(400, "bad_path", str(exc)) from None
        saved = []
        for name, item in zip(names, uploads, strict=True):
            content = await item.read()
            replaced = await off_loop(files.save, name, content, who.user)
            note(who, "replace" if replaced else "upload", name, f"{len(content)} bytes")
            saved.append({"path": name, "replaced": replaced, "bytes": len(content)})
        return JSONResponse({"saved": saved})

    @app.delete("/admin/api/documents/{path:path}")
    async def delete(path: str, who: Writer) -> JSONResponse:
        try:
            item = await off_loop(files.delete, path, who.user)
        except BadPath as exc:
            raise Refused(400, "bad_path", str(exc)) from None
        except FileNotFoundError:
            raise Refused(404, "not_found", strings.FILE_MISSING.format(path=path)) from None
        note(who, "delete", item.path, f"trash {item.id}")
        return JSONResponse({"deleted": item.path, "trash": item.id})

    @app.patch("/admin/api/documents/{path:path}")
    async def edit(path: str, body: DetailsRequest, who: Writer) -> JSONResponse:
        values = body.model_dump(exclude_unset=True)
        try:
            where = await off_loop(files.edit, path, values)
        except BadPath as exc:
            raise Refused(400, "bad_path", str(exc)) from None
        except FileNotFoundError:
            raise Refused(404, "not_found", strings.FILE_MISSING.format(path=path)) from None
        except ValueError as exc:  # a SidecarError: a date that does not exist, a value too long
            raise Refused(422, "bad_value", str(exc)) from None
        note(who, "edit", path, json.dumps(values, ensure_ascii=False))
        return JSONResponse({"path": path, "where": where})

    @app.get("/admin/api/trash")
    async def trash(who: Reader) -> JSONResponse:
        return JSONResponse([t.__dict__ for t in await off_loop(files.trash)])

    @app.post("/admin/api/trash/{item_id}/restore")
    async def restore(item_id: str, who: Writer) -> JSONResponse:
        try:
            path = await off_loop(files.restore, item_id, who.user)
        except (FileNotFoundError, BadPath):
            raise Refused(404, "not_found", strings.TRASH_MISSING) from None
        note(who, "restore", path, item_id)
        return JSONResponse({"restored": path})

    # --- ingest -------------------------------------------------------------------------------------------

    @app.post("/admin/api/ingest")
    async def start_ingest(who: Writer) -> JSONResponse:
        job, started = jobs.start(who.user)
        if started:
            note(who, "ingest", job.id)
        return JSONResponse({"job": job.id, "started": started})

    @app.get("/admin/api/ingest/{job_id}")
    async def ingest_state(job_id: str, who: Reader) -> JSONResponse:
        job = jobs.get(job_id)
        if job is None:
            raise Refused(404, "not_found", strings.NOT_FOUND)
        return JSONResponse(job.as_json())

    # --- try it ---------------------------------------------------------------------------------------------

    @app.post("/admin/api/try")
    async def try_it(body: QuestionRequest, who: Reader) -> JSONResponse:
        def run() -> dict[str, Any]:
            answer = assistant.ask(body.question, [])
            retrieval = assistant.retrieve(body.question)
            payload = answer.as_json()
            payload["text"] = answer.text
            payload["cited"] = [{"path": s.path, "title": s.title, "line": s.line()} for s in answer.cited]
            payload["ranking"] = explain.ranking(settings, retrieval, answer)
            return payload

        try:
            return JSONResponse(await off_loop(run))
        except UserError as exc:
            logger.warning("try it: %s", exc)
            raise Refused(503, "no_index", strings.NO_INDEX) from None

    # --- what residents asked ------------------------------------------------------------------------------

    def asked_rows(since: str | None) -> tuple[int, list[asked.Asked]]:
        try:
            days = asked.since_days(since, settings.telegram.unanswered_days)
        except UserError as exc:
            raise Refused(422, "bad_since", str(exc)) from None
        return days, asked.collect(state, days)

    @app.get("/admin/api/asked")
    async def asked_json(who: Reader, since: str | None = None) -> JSONResponse:
        days, rows = await off_loop(asked_rows, since)
        return JSONResponse({"days": days, "rows": [r.__dict__ for r in rows]})

    @app.get("/admin/api/asked.csv")
    async def asked_csv(who: Reader, since: str | None = None) -> Response:
        _, rows = await off_loop(asked_rows, since)
        return Response(
            asked.as_csv(rows).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="residents-asked.csv"'},
        )

    @app.post("/admin/api/faq")
    async def add_faq(body: FaqRequest, who: Writer) -> JSONResponse:
        try:
            path = await off_loop(asked.add_faq, settings, body.question, body.answer)
        except UserError as exc:
            raise Refused(422, "bad_faq", str(exc)) from None
        rel = path.relative_to(settings.knowledge_dir).as_posix()
        note(who, "faq", rel, body.question[:100])
        job, started = jobs.start(who.user, reason="faq")
        if started:
            note(who, "ingest", job.id, "faq")
        return JSONResponse({"path": rel, "job": job.id, "started": started})

    # --- standards -------------------------------------------------------------------------------------------

    def standards_doc() -> Path:
        path = standards_form.find_document(settings.knowledge_dir, files.files())
        if path is None:
            raise Refused(404, "no_standards", strings.NO_STANDARDS_DOC)
        return path

    @app.get("/admin/api/standards")
    async def standards_get(who: Reader) -> JSONResponse:
        path = await off_loop(standards_doc)
        block = await off_loop(standards_form.read_block, path)
        rel = path.relative_to(settings.knowledge_dir).as_posix()
        return JSONResponse({"path": rel, "standards": block, "schema": standards_form.schema()})

    @app.put("/admin/api/standards")
    async def standards_put(body: StandardsRequest, who: Writer) -> JSONResponse:
        path = await off_loop(standards_doc)
        try:
            _, changes, warnings = await off_loop(standards_form.save, path, body.standards)
        except UserError as exc:
            raise Refused(422, "bad_standards", str(exc)) from None
        rel = path.relative_to(settings.knowledge_dir).as_posix()
        detail = "；".join(f"{c.section}.{c.key}: {c.old} → {c.new}" for c in changes)
        note(who, "standards", rel, detail)
        try:
            index = await off_loop(assistant.index)
        except UserError:
            index = None
        stale = standards_form.stale_documents(changes, index)
        return JSONResponse(
            {
                "path": rel,
                "changes": [c.__dict__ for c in changes],
                "warnings": warnings,
                "stale": stale,
            }
        )

    @app.get("/admin/api/audit")
    async def audit_log(who: Reader) -> JSONResponse:
        return JSONResponse([e.__dict__ for e in await off_loop(audit.recent, data)])

    return app


def _target(path: str, filename: str, count: int) -> str:
    """Where an uploaded file goes: ``path`` names the file (one upload) or a folder (ending in /);
    otherwise the file's own name (a relative path, checked like any other)."""
    if path and not path.endswith("/"):
        if count > 1:
            raise BadPath(strings.PATH_FOR_ONE_FILE)
        return clean_path(path)
    return clean_path(path + filename)


# --- running it ---------------------------------------------------------------------------------------


def serve(
    assistant: Assistant,
    settings: Settings,
    *,
    config: Path | None = None,
    host: str | None = None,
    port: int | None = None,
) -> int:
    """Serve the console with uvicorn until Ctrl+C or SIGTERM."""
    import uvicorn

    from bot.channels.web.app import bind

    host = host or settings.admin.host
    port = settings.admin.port if port is None else port
    sock = bind(host, port)
    state = State(settings.data_dir, history_size=0, url=settings.database_url)
    try:
        app = create_app(assistant, settings, state, config=config)
        if not Accounts(settings.data_dir).names():
            print(strings.NO_USERS, file=sys.stderr)
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
        )
        print(strings.SERVING.format(host=host, port=sock.getsockname()[1]), file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    finally:
        sock.close()
        state.close()
    return 0
