"""Strict YAML loading that remembers where every value came from.

Strict means: duplicate keys are errors, dates stay strings, and YAML 1.1 booleans
(`yes`, `NO`, `on`, ...) are refused because they silently turn country codes and
answers into booleans. Positions let config errors point at `file:line:col`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigProblem, Location

# Only the YAML 1.2 core booleans resolve to bool; 1.1 spellings are reported.
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_YAML11_BOOL = re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]*\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")



@dataclass
class Loaded:
    """A parsed document, the position of each path in it, and what went wrong."""

    file: str
    data: object = None
    positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)

    def where(self, path: tuple) -> tuple[int, int]:
        """Line and column of `path`, or of its nearest located ancestor."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def location(self, path: tuple) -> Location:
        return Location(self.file, *self.where(path))

    def problem(self, path: tuple, message: str) -> ConfigProblem:
        return ConfigProblem.at(self.location(path), json_path(path), message)


def json_path(path: tuple) -> str:
    """`('jobs', 'x', 0)` -> `$.jobs.x[0]`."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def load_yaml(path: Path, display_name: str | None = None) -> Loaded:
    """Parse one YAML file strictly; syntax errors become located problems."""
    loaded = Loaded(display_name or str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        loaded.problems.append(ConfigProblem(loaded.file, 1, 1, "$", f"cannot read file: {exc.strerror}"))
        return loaded
    except UnicodeDecodeError as exc:
        loaded.problems.append(ConfigProblem(loaded.file, 1, 1, "$", f"not UTF-8 (byte {exc.start})"))
        return loaded
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        loaded.problems.append(ConfigProblem(loaded.file, line, col, "$", f"YAML syntax error: {exc.problem}"))
        return loaded
    try:
        loaded.data = {} if node is None else _build(node, (), loaded)
    except RecursionError:
        loaded.problems.append(ConfigProblem(loaded.file, 1, 1, "$", "an alias refers to itself (recursive YAML)"))
    return loaded


def _build(node: yaml.Node, path: tuple, loaded: Loaded) -> object:
    loaded.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(node, path, loaded)
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), loaded) for i, item in enumerate(node.value)]
    return _scalar(node, path, loaded)


def _build_mapping(node: yaml.MappingNode, path: tuple, loaded: Loaded) -> dict:
    out: dict = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            loaded.problems.append(loaded.problem(path, "merge keys (<<) are not supported; write the keys out"))
            continue
        key = _scalar(key_node, path, loaded) if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            loaded.problems.append(ConfigProblem(loaded.file, line, col, json_path(path), "keys must be plain strings"))
            continue
        key = str(key)
        if key in out:
            first_line = loaded.positions[path + (key,)][0]
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            loaded.problems.append(ConfigProblem(
                loaded.file, line, col, json_path(path + (key,)), f"duplicate key '{key}' (first defined on line {first_line})"))
            continue
        out[key] = _build(value_node, path + (key,), loaded)
        # A key's own position is where the key is written, which is what a reader looks for.
        loaded.positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    return out


def _scalar(node: yaml.ScalarNode, path: tuple, loaded: Loaded) -> object:
    value = node.value
    if node.style is not None or node.tag not in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int",
                                                  "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                                                  "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"):
        return value  # quoted, block or explicitly tagged: a string as written
    if _BOOL.match(value):
        return value.lower() == "true"
    if _YAML11_BOOL.match(value):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        loaded.problems.append(ConfigProblem(
            loaded.file, line, col, json_path(path),
            f"'{value}' is a YAML 1.1 boolean: write true or false, or quote it for a string"))
        return value
    if _NULL.match(value):
        return None
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value  # dates and anything else stay strings
