"""Shared fixtures: the embedding model converted (and loaded) once, data folders that reuse it,
copies of the sample knowledge folder, and one ingested index for read-only tests.

* ``model_dir`` (session): a folder holding ``multilingual-e5-small/``, converted once per session
  (about 15 s), or the folder named by ``BOT_TEST_MODEL_DIR`` (converted into it if not intact, so
  a developer can keep one between sessions).
* ``make_data_dir`` (function): ``make_data_dir(path=None) -> Path``, a data folder whose ``models``
  entry links to ``model_dir``, so no test converts the model again.
* ``knowledge_copy`` (function): a writable copy of the repository's ``knowledge/`` folder.
* ``settings_for(knowledge, data)`` (helper, also a fixture): :func:`bot.config.load_settings` for
  those two folders, with the repository's config.toml.
* ``run_cli(*args, stdin=None)``: ``python <args>`` in a subprocess from the repository root.
* ``ingested`` (session): the sample knowledge ingested once (the first-ingest report kept), with a
  warm :class:`bot.answering.assistant.Assistant`. Read-only: a test that changes things uses ``ingested_copy``.
* ``ingested_copy`` (function): a private copy of ``ingested`` (knowledge and data folders) to
  change; its embedding cache is warm, so re-ingesting unchanged text costs no model call.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.config import DEFAULT_MODEL, Settings, load_settings

if TYPE_CHECKING:  # imported where used, so unit tests that need neither stay quick to collect
    from bot.answering.assistant import Assistant
    from bot.ingest.indexing import IngestReport

REPO = Path(__file__).resolve().parents[1]
KNOWLEDGE = REPO / "knowledge"
MODEL_NAME = "multilingual-e5-small"
PYTHON = (
    str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
)


# The published figures of knowledge/assistance-standards-shanwei.md, for calculator and wizard tests.
STANDARDS_BLOCK: dict[str, Any] = {
    "dibao": {"urban": 1030, "rural": 840},
    "dibao_edge": {"urban": 1545, "rural": 1260},
    "tekun_basic": {"urban": 1648, "rural": 1344},
    "tekun_care": {"full_self_care": 330, "semi_disabled": 990, "fully_disabled": 1650},
    "temporary_assistance": {"normal_max_times": 6, "severe_max_times": 12, "advance_max_yuan": 3000},
    "disability": {"living": 200, "care_level1": 280, "care_level2": 210},
    "meal_subsidy": {"A": 8, "B": 5, "C": 2},
    "meal": {"price": 12, "min_age": 60, "senior_age": 80},
}


# --- helpers usable outside fixtures -----------------------------------------------------------


def settings_for(knowledge: Path, data: Path) -> Settings:
    """The repository's config.toml with the knowledge and data folders overridden."""
    return load_settings(None, knowledge=knowledge, data=data)


def copy_knowledge(dest: Path) -> Path:
    """A writable copy of the repository's sample knowledge folder at ``dest``."""
    shutil.copytree(KNOWLEDGE, dest)
    return dest


def new_data_dir(path: Path, model_dir: Path) -> Path:
    """Create data folder ``path`` whose ``models`` entry links to the shared, converted model folder."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "models").symlink_to(model_dir.resolve(), target_is_directory=True)
    return path


def run_cli(
    *args: str | Path, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` from the repository root with the project's interpreter, as a user would."""
    return subprocess.run(
        [PYTHON, *map(str, args)],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )


@dataclass
class KnowledgeBase:
    """A knowledge folder and a data folder holding its served index."""

    settings: Settings
    knowledge: Path
    data: Path
    assistant: Assistant
    report: IngestReport | None = None  # the ingest that built it (``ingested`` only)

    def ingest(self, **kwargs: bool) -> IngestReport:
        """Ingest in this process (no progress bars)."""
        from bot.ingest.indexing import ingest

        return ingest(self.settings, progress=False, **kwargs)

    def fresh_assistant(self) -> Assistant:
        """A new Assistant, as a restarted bot would have (no cached index)."""
        from bot.answering.assistant import Assistant

        return Assistant(self.settings)


@pytest.fixture(name="settings_for")
def settings_for_fixture() -> Callable[[Path, Path], Settings]:
    """The ``settings_for(knowledge, data)`` helper, for tests that prefer a fixture to an import."""
    return settings_for


def knowledge_base(knowledge: Path, data: Path) -> KnowledgeBase:
    """A KnowledgeBase for these folders (nothing is ingested here)."""
    from bot.answering.assistant import Assistant

    settings = settings_for(knowledge, data)
    return KnowledgeBase(settings, knowledge, data, Assistant(settings))


# --- the model -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder containing ``multilingual-e5-small/`` (converted once per session, or BOT_TEST_MODEL_DIR).

    While the session runs, every data folder linked to it (see ``make_data_dir``) also shares one
    *loaded* model: :func:`bot.embeddings.load_embedder` caches per data folder, and loading it again
    for each test's folder would cost seconds and half a gigabyte each time.
    """
    from bot import embeddings, model_convert

    given = os.environ.get("BOT_TEST_MODEL_DIR")
    models = Path(given) if given else tmp_path_factory.mktemp("shared") / "models"
    target = models / MODEL_NAME
    if not target.exists() or model_convert.verify(target) is not None:
        model_convert.convert(target)
    home = new_data_dir(tmp_path_factory.mktemp("model-home"), models)

    real = embeddings.load_embedder

    def load_shared(settings, data_dir):  # type: ignore[no-untyped-def]
        linked = (Path(data_dir) / "models").resolve() == models.resolve()
        return real(settings, home if linked and settings.model == DEFAULT_MODEL else data_dir)

    patch = pytest.MonkeyPatch()
    patch.setattr(embeddings, "load_embedder", load_shared)
    yield models
    patch.undo()


@pytest.fixture
def make_data_dir(tmp_path: Path, model_dir: Path) -> Callable[..., Path]:
    """``make_data_dir(path=None)``: a new data folder (default under tmp_path) that reuses the converted model."""
    counter = itertools.count(1)

    def make(path: Path | None = None) -> Path:
        if path is None:
            n = next(counter)
            path = tmp_path / ("data" if n == 1 else f"data{n}")
        return new_data_dir(path, model_dir)

    return make


# --- knowledge and indexes --------------------------------------------------------------------


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A writable copy of the repository's sample knowledge folder."""
    return copy_knowledge(tmp_path / "knowledge")


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> KnowledgeBase:
    """The sample knowledge ingested once for the session, with a warm Assistant. Do not change it."""
    root = tmp_path_factory.mktemp("ingested")
    knowledge = copy_knowledge(root / "knowledge")
    data = new_data_dir(root / "data", model_dir)
    settings = settings_for(knowledge, data)
    from bot.answering.assistant import Assistant
    from bot.ingest.indexing import ingest

    report = ingest(settings, progress=False)
    assistant = Assistant(settings)
    assistant.warm_up()
    return KnowledgeBase(settings, knowledge, data, assistant, report)


@pytest.fixture
def ingested_copy(tmp_path: Path, ingested: KnowledgeBase, model_dir: Path) -> KnowledgeBase:
    """A private copy of ``ingested`` (knowledge, index, embedding cache) that a test may change."""
    knowledge = shutil.copytree(ingested.knowledge, tmp_path / "knowledge")
    data = new_data_dir(tmp_path / "data", model_dir)
    for entry in ingested.data.iterdir():
        if entry.name in ("models", "ingest.lock"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, data / entry.name)
        else:
            shutil.copy2(entry, data / entry.name)
    return knowledge_base(knowledge, data)


def source_paths(answer: object) -> Sequence[str]:
    """The knowledge-relative paths of an Answer's sources, best first."""
    return [s.path for s in answer.sources]  # type: ignore[attr-defined]
