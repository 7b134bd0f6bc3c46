"""TOML tables into frozen dataclasses, every key checked against the dataclass that holds it.

A typo or a wrong type is reported with the key's full name (``retrieval.top_k``) instead of being
ignored; nested dataclasses are nested tables (``[answer.weights]``). :mod:`bot.config` declares the
settings; this module only reads them.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from bot.errors import UserError


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"配置文件 {path} 不是有效的 TOML: {exc}") from None
    except OSError as exc:
        raise UserError(f"无法读取配置文件 {path}: {exc.strerror}") from None


def build(cls: type[Any], raw: Any, prefix: str) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, naming the first bad key."""
    where = prefix.rstrip(".") or "配置文件顶层"
    if not isinstance(raw, dict):
        raise UserError(f"配置项 {where} 应当是一个表（[section]）")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise UserError(f"未知的配置项 {prefix}{key}（可用: {', '.join(sorted(known))}）")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        hint = hints[f.name]
        value = raw[f.name]
        name = prefix + f.name
        if dataclasses.is_dataclass(hint):
            values[f.name] = build(typing.cast(type[Any], hint), value, name + ".")
        else:
            values[f.name] = _coerce(hint, value, name)
    return cls(**values)


def _coerce(hint: Any, value: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Path:
        if isinstance(value, str) and value:
            return Path(value)
    elif origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if isinstance(value, list) and all(_is(item, v) for v in value):
            return tuple(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif (isinstance(hint, type) and _is(hint, value)) or isinstance(hint, types.UnionType):
        return value
    raise UserError(f"配置项 {name} 的值 {value!r} 类型不对（应为 {_type_name(hint)}）")


def _is(t: type[Any], v: Any) -> bool:
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, t)


def _type_name(hint: Any) -> str:
    names = {str: "字符串", int: "整数", float: "数字", bool: "true/false", Path: "路径字符串"}
    if typing.get_origin(hint) is tuple:
        return "列表"
    return names.get(hint, str(hint))
