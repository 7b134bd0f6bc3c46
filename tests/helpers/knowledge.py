"""The knowledge folders, data folders and command runs tests share (no fixtures here: see conftest.py).

* ``settings_for(knowledge, data)``: :func:`bot.config.load_settings` for those two folders, with the
  repository's config.toml.
* ``copy_knowledge(dest)``, ``new_data_dir(path, model_dir)``: a writable copy of ``knowledge/``; a
  data folder whose ``models`` entry links to the shared, converted model.
* ``run_cli(*args, stdin=None)``: ``python <args>`` in a subprocess from the repository root.
* :class:`KnowledgeBase`: a knowledge folder and the data folder holding its served index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings, load_settings

if TYPE_CHECKING:  # imported where used, so unit tests that need neither stay quick to collect
    from bot.answering.assistant import Assistant
    from bot.ingest.indexing import IngestReport

REPO = Path(__file__).resolve().parents[2]
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
    *args: str | Path, stdin: str | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` from the repository root with the project's interpreter, as a user would
    (``env``: variables added to this process's environment)."""
    return subprocess.run(
        [PYTHON, *map(str, args)],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
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


def knowledge_base(knowledge: Path, data: Path) -> KnowledgeBase:
    """A KnowledgeBase for these folders (nothing is ingested here)."""
    from bot.answering.assistant import Assistant

    settings = settings_for(knowledge, data)
    return KnowledgeBase(settings, knowledge, data, Assistant(settings))


def copy_of(ingested: KnowledgeBase, root: Path, model_dir: Path) -> KnowledgeBase:
    """Knowledge, index and embedding cache of ``ingested`` copied under ``root`` (re-ingests are cheap)."""
    knowledge = shutil.copytree(ingested.knowledge, root / "knowledge")
    data = new_data_dir(root / "data", model_dir)
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
