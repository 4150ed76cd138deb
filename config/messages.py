"""Turn pydantic validation errors into one-line, human-oriented messages.

Each problem becomes ``<dotted.key>: <what is allowed> (got <value>)``, for example
``risk.stop_loss_pct: must be > 0 and <= 50 (got -1)``.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import annotated_types as at
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_BOUNDS = ((at.Gt, "gt", ">"), (at.Ge, "ge", ">="), (at.Lt, "lt", "<"), (at.Le, "le", "<="))
_TYPE_MESSAGES = {
    "model_type": "expected a table",
    "dict_type": "expected a table",
    "model_attributes_type": "expected a table",
    "tuple_type": "expected an array",
    "list_type": "expected an array",
    "string_type": "expected a string",
    "string_too_short": "must not be empty",
}
_RANGE_TYPES = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_SECRET_KEY = re.compile(r"(url|webhook|token|secret|password|dsn|command)$", re.IGNORECASE)
"""Keys whose value may carry a credential (a key in a URL's query or userinfo): a message
names the key only, never the value (an alert command may carry one in its arguments)."""


def show(value: Any, limit: int = 60) -> str:
    """A short TOML-like rendering of ``value`` for messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, (int, float, Decimal)):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dotted(loc: tuple[Any, ...]) -> str:
    """``('symbols', 'list', 3)`` -> ``symbols.list[3]``; odd keys are quoted in brackets."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return out


def _walk(
    root: type[BaseModel], loc: tuple[Any, ...]
) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """(model reached by following ``loc``, FieldInfo of the last key) where they exist."""
    model: type[BaseModel] | None = root
    info: FieldInfo | None = None
    items: type[BaseModel] | None = None  # the entry model of an array of tables ([[accounts]])
    for part in loc:
        if isinstance(part, int) and items is not None:
            model, items, info = items, None, None
            continue
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None, None
        info = model.model_fields[part]
        annotation = _without_none(info.annotation)
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation if is_model else None
        items = _entry_model(annotation)
    return model, info


def _without_none(annotation: Any) -> Any:
    """``X`` for ``X | None`` (an optional section), else ``annotation``."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _entry_model(annotation: Any) -> type[BaseModel] | None:
    """``X`` for ``tuple[X, ...]`` / ``list[X]`` where X is a model, else None."""
    if typing.get_origin(annotation) not in (tuple, list):
        return None
    args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
    entry = args[0] if len(args) == 1 else None
    return entry if isinstance(entry, type) and issubclass(entry, BaseModel) else None


def _range_text(info: FieldInfo | None) -> str | None:
    if info is None:
        return None
    parts = []
    for meta in info.metadata:
        for kind, attr, op in _BOUNDS:
            if isinstance(meta, kind):
                parts.append(f"{op} {show(getattr(meta, attr))}")
    return "must be " + " and ".join(parts) if parts else None


def _unknown_key(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    owner, _ = _walk(root, loc[:-1])
    if owner is None:
        return "unknown key"
    allowed = list(owner.model_fields)
    text = f"unknown key (allowed: {', '.join(allowed)})"
    if len(loc) == 2 and loc[-1] in root.model_fields:  # `risk = {...}` after [symbols]
        return text + (f"; {loc[-1]} is a section of its own: give it before the first table "
                       f"or as [{loc[-1]}] (a key after [{loc[0]}] belongs to [{loc[0]}])")
    # the key exactly as another table has it first: a close spelling here was the wrong
    # hint (found by review: `[risk] max_size_usdt` was "did you mean order_size_usdt?")
    home = _section_of(root, loc)
    if home:
        return text + f"; {loc[-1]} is a key of [{home}]"
    hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    return text + (f"; did you mean {hint[0]}?" if hint else "")


def _tables(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """(dotted name, model) of every table under ``model``: sections and their own tables
    (`strategy.grid`); arrays of tables ([[accounts]]) are not followed."""
    found = []
    for name, info in model.model_fields.items():
        table = _without_none(info.annotation)
        if isinstance(table, type) and issubclass(table, BaseModel):
            found.append((prefix + name, table))
            found += _tables(table, prefix + name + ".")
    return found


def _section_of(root: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The other tables that have the key `loc` names (found by review: `mode` written under
    [risk], or above the first table, was only "unknown key"; `levels` under [strategy] too),
    or None."""
    if not isinstance(loc[-1], str):
        return None
    here = ".".join(str(part) for part in loc[:-1] if isinstance(part, str))
    homes = [name for name, table in _tables(root)
             if name != here and loc[-1] in table.model_fields]
    return "], [".join(homes) or None


def _literal_text(error: Mapping[str, Any]) -> str:
    expected = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
    return "must be one of " + ", ".join(json.dumps(e) for e in expected)


def _length_text(error: Mapping[str, Any], info: FieldInfo | None) -> str:
    low, high = 0, None
    for meta in info.metadata if info else ():
        low = getattr(meta, "min_length", None) or low
        high = getattr(meta, "max_length", None) or high
    return f"must have {low}..{high} entries (got {len(error.get('input') or ())})"


def _describe(root: type[BaseModel], error: Mapping[str, Any]) -> tuple[str, str, bool]:
    """(dotted key, message, append-the-input?) for one pydantic error."""
    kind, loc = error["type"], tuple(error["loc"])
    if loc and loc[-1] == "[key]":  # a bad key inside a table (e.g. paper.csv_files)
        key, message, with_input = _describe(root, {**error, "loc": loc[:-1]})
        return key, f"key {message}", with_input
    section, info = _walk(root, loc)
    key = dotted(loc)
    if kind == "extra_forbidden":
        return key, _unknown_key(root, loc), False
    if kind == "missing":
        what = "section" if len(loc) == 1 or section is not None else "key"
        return key, f"required {what} is missing", False
    if kind == "cross_field":
        field = str(error["ctx"]["field"])
        joiner = "" if not key or field.startswith("[") else "."
        return f"{key}{joiner}{field}", str(error["ctx"]["detail"]), False
    if kind == "env_name":  # a secret pasted as a variable's name: never repeated
        return key, error["msg"], False
    if kind in _RANGE_TYPES:
        return key, _range_text(info) or error["msg"], True
    if kind == "literal_error":
        return key, _literal_text(error), True
    if kind == "expected_array" and info is not None and _entry_model(info.annotation):
        # `[accounts.risk]` with no `[[accounts]]` before it (found by review)
        return key, (f"expected an array of tables: begin each entry with [[{key}]] "
                     "(two brackets)"), False
    if kind in ("too_short", "too_long"):
        return key, _length_text(error, info), False
    if kind == "string_pattern_mismatch":
        wanted = info.description if info and info.description else None
        pattern = error.get("ctx", {}).get("pattern", "?")
        return key, f"must be {wanted}" if wanted else f"must match {pattern}", True
    return key, _TYPE_MESSAGES.get(kind, error["msg"].splitlines()[0]), True


def problem_lines(root: type[BaseModel], exc: ValidationError) -> list[str]:
    """One ``key: message (got value)`` line per error in ``exc``."""
    lines = []
    for error in exc.errors(include_url=False):
        if _length_artifact(error):
            continue
        key, message, with_input = _describe(root, error)
        if with_input and _may_hold_secret(error):
            with_input = False
        suffix = f" (got {show(error['input'])})" if with_input and "input" in error else ""
        lines.append(f"{key or '<top level>'}: {message}{suffix}")
    return lines


def _may_hold_secret(error: Mapping[str, Any]) -> bool:
    """A URL-like value, a table or array (a whole section's keys), or any value under a URL /
    webhook / token key (see ``_SECRET_KEY``)."""
    names = [str(part) for part in error.get("loc", ()) if isinstance(part, str)]
    given = error.get("input")
    if isinstance(given, (dict, list, tuple)) or any(_SECRET_KEY.search(n) for n in names):
        return True
    return isinstance(given, str) and "://" in given


def _length_artifact(error: Mapping[str, Any]) -> bool:
    """pydantic also reports an array as too short when some of its entries failed (it counts
    the valid ones); the failing entries have their own lines, so this one is noise."""
    ctx, given = error.get("ctx") or {}, error.get("input")
    if error["type"] != "too_short" or not isinstance(given, (list, tuple)):
        return False
    return len(given) >= int(ctx.get("min_length", 0))
