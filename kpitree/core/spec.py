"""Reading tree files: strict YAML into frozen specs that remember where they came from.

What belongs here: turning a YAML file (or text) into :class:`TreeSpec` / :class:`NodeSpec`
values, with every field type-checked and every problem located as ``file:line``. What does not:
anything about what the formulas mean (that is :mod:`kpitree.core.tree`).

The YAML subset is deliberately small: no tags (so nothing can build objects), no anchors or
aliases (so nothing can explode in size), no duplicate keys (so nothing is silently dropped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kpitree.core.definitions import DataDefinition, parse_data_section
from kpitree.core.errors import Problem, TreeError, did_you_mean
from kpitree.core.safety import control_characters

MAX_TREE_FILE_BYTES = 1_000_000

TREE_KEYS = ("name", "title", "description", "root", "weight", "segments", "unit", "decimals",
             "nodes", "data")
MAX_DECIMALS_OPTION = 6
NODE_KEYS = ("label", "column", "formula", "format", "description")
NODE_FORMATS = ("currency", "percent", "number")


@dataclass(frozen=True)
class NodeSpec:
    """One node as written in the tree file: exactly one of ``column`` or ``formula``."""

    name: str
    label: str
    column: str | None = None
    formula: str | None = None
    format: str | None = None
    description: str = ""
    line: int = 0

    @property
    def is_column(self) -> bool:
        return self.column is not None


@dataclass(frozen=True)
class TreeSpec:
    """A whole tree file, validated for shape but not yet for meaning."""

    name: str
    title: str
    root: str
    weight: str
    segments: tuple[str, ...]
    unit: str
    nodes: tuple[NodeSpec, ...]
    source: str = "<tree>"
    description: str = ""
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    # The optional `data:` section (raw-event definitions, see kpitree.core.definitions).
    data: DataDefinition | None = None
    # `decimals:` fixes the decimals of every money and number figure in every view (None:
    # each table or chart chooses from its own values, kpitree.core.formatting.table_decimals).
    decimals: int | None = None

    def where(self, line: int | None = None) -> str:
        """``file:line`` for messages (just ``file`` when the line is unknown)."""
        return f"{self.source}:{line}" if line else self.source

    def problem(self, message: str, line: int | None = None, node: str | None = None) -> Problem:
        """A problem of this file, at ``line`` (unknown when 0 or None), about ``node``."""
        return Problem(message, file=self.source, line=line or None, node=node)

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses tags, anchors and aliases while composing."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise _Located(line, f"YAML aliases ('*{event.anchor}') are not allowed in tree files")
        if getattr(event, "anchor", None):
            raise _Located(line, f"YAML anchors ('&{event.anchor}') are not allowed in tree files")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise _Located(line, f"YAML tags ('{tag}') are not allowed in tree files")
        return super().compose_node(parent, index)


class _Located(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _plain(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """Convert a composed YAML node to plain Python, rejecting duplicate keys."""
    if isinstance(node, yaml.ScalarNode):
        # Implicitly resolved scalars only (tags were refused while composing).
        if node.tag == "tag:yaml.org,2002:merge":
            raise _Located(node.start_mark.line + 1, "YAML merge keys ('<<') are not allowed in "
                                                     "tree files; write the keys out in full")
        try:
            return loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "a value YAML cannot read"
            raise _Located(node.start_mark.line + 1, f"{problem}; quote the value") from None
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, loader) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _plain(key_node, loader)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise _Located(key_node.start_mark.line + 1, "mapping keys must be plain names")
            if key in result:
                raise _Located(key_node.start_mark.line + 1, f"duplicate key '{key}'")
            result[key] = _plain(value_node, loader)
        return result
    raise _Located(node.start_mark.line + 1, "unsupported YAML construct")


def _compose(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Compose and convert YAML text; return the data and the line of each node name."""
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as exc:
        raise TreeError(_unreadable(text, exc, source)) from None
    try:
        root = loader.get_single_node()
    except RecursionError:
        raise TreeError(f"{source}: the YAML is nested too deeply for a tree file") from None
    except _Located as exc:
        raise TreeError(f"{source}:{exc.line}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = f"YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}"
        if mark is None:
            raise TreeError(f"{source}:?: {problem}") from None
        located = Problem(problem, file=source, line=mark.line + 1, column=mark.column + 1)
        raise TreeError.collected([located], source) from None
    except yaml.YAMLError as exc:
        raise TreeError(f"{source}: YAML error: {exc}") from None
    if root is None:
        raise TreeError(f"{source}: the tree file is empty; see trees/saas_arpu.yaml")
    lines: dict[str, int] = {}
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            lines[f"@{key_node.value}"] = key_node.start_mark.line + 1
            if key_node.value == "nodes" and isinstance(value_node, yaml.MappingNode):
                for name_node, _ in value_node.value:
                    lines.setdefault(str(name_node.value), name_node.start_mark.line + 1)
    try:
        data = _plain(root, loader)
    except _Located as exc:
        raise TreeError(f"{source}:{exc.line}: {exc.message}") from None
    except RecursionError:
        raise TreeError(f"{source}: the YAML is nested too deeply for a tree file") from None
    finally:
        loader.dispose()
    return data, lines


def _unreadable(text: str, exc: yaml.reader.ReaderError, source: str) -> str:
    """The message for a character YAML refuses to read (a NUL byte, a control character)."""
    position = max(0, min(int(exc.position), len(text)))
    line = text.count("\n", 0, position) + 1
    character = exc.character if isinstance(exc.character, str) else chr(exc.character)
    shown = "a NUL byte" if character == "\0" else f"the control character {character!r}"
    return (f"{source}:{line}: {shown} is not allowed in a tree file; remove it (is this the "
            "right file?)")


def parse_tree_text(text: str, source: str = "<tree>") -> TreeSpec:
    """Parse tree-file text into a :class:`TreeSpec` (shape checks only).

    Raises:
        TreeError: naming ``source:line`` and the problem.
    """
    data, lines = _compose(text, source)
    if not isinstance(data, dict):
        raise TreeError(
            f"{source}:1: a tree file must be a mapping with 'root', 'weight' and 'nodes' keys"
        )
    problems: list[Problem] = []

    def report(message: str, key: str | None = None) -> None:
        """A problem of the file, at the line of top-level ``key`` (line 1 if not found)."""
        problems.append(Problem(message, file=source, line=lines.get(key, 1) if key else None))

    for key in data:
        if key not in TREE_KEYS:
            report(f"unknown key '{key}'.{did_you_mean(key, TREE_KEYS)}"
                   f" Allowed: {', '.join(TREE_KEYS)}", "@" + str(key))

    def text_field(key: str, required: bool, default: str = "") -> str:
        value = data.get(key, default)
        if value is None or value == "":
            if required:
                report(f"missing required key '{key}'")
            return default
        if not isinstance(value, str):
            report(f"'{key}' must be a text value, not {value!r}", "@" + key)
            return default
        if control_characters(value.replace("\n", "").replace("\t", "")
                              if key == "description" else value):
            report(f"'{key}' holds control characters "
                   f"({', '.join(control_characters(value))}); remove them", "@" + key)
            return default
        return value

    root = text_field("root", required=True)
    # DESIGN §1: with no segments any formula root is decomposed through its formula alone,
    # so the weight is required only when the file declares segments.
    weight = text_field("weight", required=bool(data.get("segments")))
    name = text_field("name", required=False, default=Path(source).stem)
    title = text_field("title", required=False, default=name)
    unit = text_field("unit", required=False)
    decimals = data.get("decimals")
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)
                                 or not 0 <= decimals <= MAX_DECIMALS_OPTION):
        report(f"'decimals' must be a whole number from 0 to {MAX_DECIMALS_OPTION}, not "
               f"{decimals!r}", "@decimals")
        decimals = None
    description = text_field("description", required=False)

    raw_segments = data.get("segments", [])
    if isinstance(raw_segments, str):
        raw_segments = [raw_segments]
    if not isinstance(raw_segments, list) or not all(isinstance(s, str) for s in raw_segments):
        report("'segments' must be a list of column names", "@segments")
        raw_segments = []
    if len(set(raw_segments)) != len(raw_segments):
        report("'segments' lists a dimension twice", "@segments")

    nodes: list[NodeSpec] = []
    raw_nodes = data.get("nodes")
    if raw_nodes is None:
        report("missing required key 'nodes'")
        raw_nodes = {}
    elif not isinstance(raw_nodes, dict) or not raw_nodes:
        report("'nodes' must be a non-empty mapping of name → node", "@nodes")
        raw_nodes = {}
    for node_name, body in raw_nodes.items():
        line = lines.get(str(node_name), 0)
        report_node = _node_reporter(problems, source, line, str(node_name))
        node = _node_spec(str(node_name), body, line, report_node)
        if node is not None:
            nodes.append(node)

    data_definition = parse_data_section(data.get("data"), source, lines.get("@data", 0), problems)

    if problems:
        raise TreeError.collected(problems, source)
    return TreeSpec(
        name=name,
        title=title,
        root=root,
        weight=weight,
        segments=tuple(raw_segments),
        unit=unit,
        nodes=tuple(nodes),
        source=source,
        description=description,
        lines=lines,
        data=data_definition,
        decimals=decimals,
    )


def _node_reporter(
    problems: list[Problem], source: str, line: int, node: str
) -> Callable[[str], None]:
    """Record the problems of one node, at its line."""

    def report(message: str) -> None:
        problems.append(Problem(message, file=source, line=line or None, node=node))

    return report


def _node_spec(name: str, body: Any, line: int, report: Callable[[str], None]) -> NodeSpec | None:
    if not name.isidentifier():
        report(f"node name '{name}' must be a plain identifier (letters, digits, _)")
        return None
    if not isinstance(body, dict):
        report(f"node '{name}' must be a mapping with 'column' or 'formula', "
               f"e.g. {{column: {name}}}")
        return None
    for key in body:
        if key not in NODE_KEYS:
            report(f"node '{name}' has unknown key '{key}'.{did_you_mean(key, NODE_KEYS)}"
                   f" Allowed: {', '.join(NODE_KEYS)}")
    column, formula = body.get("column"), body.get("formula")
    if column is None and formula is None:
        report(f"node '{name}' needs a 'column' (a data column to sum) or a 'formula'")
        return None
    if column is not None and formula is not None:
        report(f"node '{name}' has both 'column' and 'formula'; keep one")
        return None
    if formula is not None and not isinstance(formula, str | int | float):
        report(f"node '{name}': 'formula' must be text like 'base / users'")
        return None
    if column is not None and not isinstance(column, str):
        report(f"node '{name}': 'column' must be a column name")
        return None
    fmt = body.get("format")
    if fmt is not None and fmt not in NODE_FORMATS:
        report(f"node '{name}': format '{fmt}' is not one of {', '.join(NODE_FORMATS)}"
               f".{did_you_mean(fmt, NODE_FORMATS)}")
        fmt = None
    label = body.get("label", name)
    if isinstance(label, bool) or not isinstance(label, str | int | float):
        report(f"node '{name}': 'label' must be text like 'Active users', not {label!r}")
        label = name
    elif control_characters(str(label)):
        report(f"node '{name}': 'label' holds control characters "
               f"({', '.join(control_characters(str(label)))}); remove them")
        label = name
    description = body.get("description", "")
    if not isinstance(description, str | int | float) or isinstance(description, bool):
        report(f"node '{name}': 'description' must be text")
        description = ""
    return NodeSpec(
        name=name,
        label=str(label),
        column=column,
        formula=None if formula is None else str(formula),
        format=fmt,
        description=str(description),
        line=line,
    )


def read_tree_spec(path: str | Path) -> TreeSpec:
    """Read and shape-check a tree file.

    Raises:
        TreeError: the file is missing, too large, not UTF-8 or malformed.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise TreeError(f"{source}: tree file not found")
    size = path.stat().st_size
    if size > MAX_TREE_FILE_BYTES:
        raise TreeError(
            f"{source}: tree file is {size:,} bytes; tree files are limited to "
            f"{MAX_TREE_FILE_BYTES:,} bytes"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TreeError(f"{source}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if not text.strip():
        raise TreeError(f"{source}: the tree file is empty; see trees/saas_arpu.yaml")
    return parse_tree_text(text, source)
