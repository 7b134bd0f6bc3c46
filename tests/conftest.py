"""Shared fixtures: the embedding model converted (and loaded) once, data folders that reuse it,
copies of the sample knowledge folder, and one ingested index for read-only tests.

* ``model_dir`` (session): a folder holding ``multilingual-e5-small/``, converted once per session
  (about 15 s), or the folder named by ``BOT_TEST_MODEL_DIR`` (converted into it if not intact, so
  a developer can keep one between sessions).
* ``make_data_dir`` (function): ``make_data_dir(path=None) -> Path``, a data folder whose ``models``
  entry links to ``model_dir``, so no test converts the model again.
* ``knowledge_copy`` (function): a writable copy of the repository's ``knowledge/`` folder.
* ``settings_for`` (fixture): the helper :func:`tests.helpers.knowledge.settings_for`.
* ``ingested`` (session): the sample knowledge ingested once (the first-ingest report kept), with a
  warm :class:`bot.answering.assistant.Assistant`. Read-only: a test that changes things uses
  ``ingested_copy``.
* ``ingested_copy`` (function): a private copy of ``ingested`` (knowledge and data folders) to
  change; its embedding cache is warm, so re-ingesting unchanged text costs no model call.
* ``postgres`` (session): a throwaway PostgreSQL cluster (:mod:`bot.testing.postgres`) on a free port.
* ``backend`` (function, parametrized ``sqlite`` / ``postgresql``): ``backend.open(folder, **kw)`` is
  a :class:`bot.state.database.State` of that folder on either engine, so one state test runs on both.

Every test that uses one of the model fixtures is marked ``slow`` here (it needs the real model,
and usually a full ingest), so ``pytest -m "not slow"`` is the quick loop. Helpers that are no
fixtures live in ``tests/helpers/``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.config import DEFAULT_MODEL, Settings
from tests.helpers.backends import Backend
from tests.helpers.knowledge import (
    MODEL_NAME,
    KnowledgeBase,
    copy_knowledge,
    copy_of,
    new_data_dir,
    settings_for,
)

if TYPE_CHECKING:
    from bot.testing.postgres import PostgresCluster

MODEL_FIXTURES = frozenset({"model_dir", "make_data_dir", "ingested", "ingested_copy"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that needs the real model (through any fixture that depends on it)."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(name="settings_for")
def settings_for_fixture() -> Callable[[Path, Path], Settings]:
    """The ``settings_for(knowledge, data)`` helper, for tests that prefer a fixture to an import."""
    return settings_for


# --- the state database ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One PostgreSQL server for the session (each test asks it for a database of its own)."""
    from bot.testing.postgres import PostgresCluster

    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The state on SQLite (each folder its own file) or PostgreSQL (each folder its own database)."""
    if request.param == "sqlite":
        return Backend(None)
    return Backend(request.getfixturevalue("postgres"))


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
    return copy_of(ingested, tmp_path, model_dir)
