"""YAML reading that remembers where each key came from.

Users edit plan and scenario files by hand; an error must point at the line. ``yaml.safe_load`` throws
the positions away, so we compose the node graph ourselves (still the safe loader: no arbitrary
objects) and record the line of every mapping key and sequence item by its key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import InputError, nearest

KeyPath = tuple  # of str | int

#: Limits that keep a hostile or broken file from exhausting memory or the stack. Real plan and
#: scenario files are far below them (the largest shipped plan is under 100 kB, 6 levels deep).
MAX_FILE_BYTES = 5_000_000
MAX_DEPTH = 40
MAX_VALUES = 200_000  # values built, counting each expansion of an alias (a "billion laughs" file)


class Located:
    """Parsed YAML data with the line of every key path (1-based)."""

    def __init__(self, data: Any, lines: dict[KeyPath, int], file: str):
        self.data, self.lines, self.file = data, lines, file

    def line_of(self, path: KeyPath) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def error(self, path: KeyPath, problem: str) -> InputError:
        return InputError(problem, file=self.file, line=self.line_of(path), key=format_path(path),
                          path=tuple(path))


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Budget:
    """Counts the values built from one file against :data:`MAX_VALUES`."""

    def __init__(self):
        self.values = 0


def _construct(node: yaml.Node, path: KeyPath, lines: dict, loader: yaml.SafeLoader,
               budget: _Budget | None = None):
    budget = budget or _Budget()
    budget.values += 1
    if budget.values > MAX_VALUES:
        raise yaml.MarkedYAMLError(problem=f"more than {MAX_VALUES:,} values (aliases expanding "
                                           "without bound?)", problem_mark=node.start_mark)
    if len(path) > MAX_DEPTH:
        raise yaml.MarkedYAMLError(problem=f"nested more than {MAX_DEPTH} levels deep (a "
                                           "recursive alias?)", problem_mark=node.start_mark)
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise yaml.MarkedYAMLError(problem="a mapping key must be a scalar",
                                           problem_mark=key_node.start_mark)
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                raise yaml.MarkedYAMLError(problem=f"duplicate key '{key}'",
                                           problem_mark=key_node.start_mark)
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, path + (key,), lines, loader, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            items.append(_construct(item, path + (i,), lines, loader, budget))
        return items
    return loader.construct_object(node, deep=True)


def load_located(path: str | Path, display: str | None = None) -> Located:
    """Read a YAML file with the safe loader, keeping the line of every key path."""
    path = Path(path)
    display = display or str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"file larger than {MAX_FILE_BYTES // 1_000_000} MB: not a plan, "
                             "scenario or statistics file", file=display)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=display) from None
    except IsADirectoryError:
        raise InputError("a directory, not a YAML file", file=display) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", file=display) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=display) from None
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # the reader rejects control characters here
        root = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        data = {} if root is None else _construct(root, (), lines, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise InputError(f"invalid YAML: {problem}", file=display, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1 if exc.position is not None else None
        raise InputError(f"invalid YAML: character {exc.character!r} is not allowed (control "
                         "characters and NUL are not text)", file=display, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError("invalid YAML: " + " ".join(str(exc).split()), file=display) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=display) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Located(data, lines, display)


def raise_validation_error(located: Located, exc: ValidationError, model: type | None = None,
                           base: KeyPath = ()) -> None:
    """Turn pydantic's first error into a one-line :class:`InputError` at the right line.

    ``model`` is the pydantic class validated at ``base``; it lets an unknown key be answered with the
    nearest valid key.
    """
    errors = exc.errors(include_url=False)
    err = errors[0]
    if err["type"] == "missing":
        # A misspelt key shows up twice: the right key missing and the wrong one unknown. The
        # unknown key is the one the user typed, so that is where the line and the hint belong.
        err = next((e for e in errors if e["type"] == "extra_forbidden"
                    and e["loc"][:-1] == err["loc"][:-1]), err)
    # Pydantic inserts union member names and validator names into ``loc``; keep real key paths only.
    # The key of an unknown-key error is the user's own, whatever it looks like ("", "int", "a[").
    raw = err["loc"]
    user_key = raw[-1:] if err["type"] == "extra_forbidden" and raw else ()
    loc = tuple(p for p in raw[:len(raw) - len(user_key)] if _is_data_key(p)) + tuple(user_key)
    path = base + loc
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden" and path:
        fields = fields_at(model, loc[:-1]) if model is not None else []
        msg = f"unknown key '{path[-1]}'" + nearest(path[-1], fields)
    elif err["type"] == "missing":
        msg = "required key is missing"
    raise located.error(path, msg) from None


def _is_data_key(part: Any) -> bool:
    if isinstance(part, int):
        return True
    return not (part.startswith("function-") or "[" in part or part in _UNION_TAGS)


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "is-instance"}


def fields_at(model: type, path: KeyPath) -> list[str]:
    """The field names of the pydantic model found by following ``path`` from ``model``."""

    current: Any = model
    for part in path:
        current = _unwrap_container(current, part)
        if current is None:
            return []
    current = _unwrap_container(current, None)
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def _unwrap_container(tp: Any, part: Any) -> Any:
    import types
    import typing

    for _ in range(6):
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(tp) if hasattr(a, "model_fields")
                      or typing.get_origin(a) in (list, dict)]
            if not models:
                return None
            tp = models[0]
            continue
        if origin in (list, tuple):
            if part is None or isinstance(part, int):
                tp = typing.get_args(tp)[0]
                if isinstance(part, int):
                    return tp
                continue
            return None
        if origin is dict:
            tp = typing.get_args(tp)[1]
            if part is None:
                continue
            return tp
        break
    if part is None:
        return tp
    fields = getattr(tp, "model_fields", None)
    if fields and part in fields:
        return fields[part].annotation
    return None
