"""The workflow's config as Snakemake hands it over, made what its author wrote (pure Python;
workflow/rules/common.smk calls these before the schema check):

- Repeated keys. YAML lets a mapping repeat a key, the last one winning, and the YAML loaders
  Snakemake and PyYAML use accept that silently: a second `experiments:` drops the first
  section without a word. repeated_key finds the first repeated key of a YAML text, with its
  dotted path and both lines; check_config_files refuses a config file that has one (claims
  files are checked by nst/study/tables/findings.py the same way).
- --config values. Snakemake reads a nested --config value (`params={size: 256}`) with YAML's
  base loader, so every scalar in it arrives as a string ('256'), which the schema then refuses.
  coerce_overrides reads each such string as the type the schema gives its key: null and
  booleans as YAML writes them where the schema allows them, then integers and numbers
  (1e5 too, which YAML 1.1 itself reads as text); where the schema takes a string the text
  stays a string (weights: a file named 1e5, init: an image path). A string that fits no type
  is left for the schema check to name. An experiment's value lists (vary, grid, tune) hold run
  parameters, so their items are read as those parameters' own schema types.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from ...errors import PlanError

MERGE_TAG = "tag:yaml.org,2002:merge"
INTEGER = re.compile(r"^[-+]?[0-9]+$")
# a `$defs` entry whose mappings hold lists of the values of another entry's properties
VALUE_LISTS = {"#/$defs/value_lists": "run_params"}


# --- repeated keys -------------------------------------------------------------------------
def repeated_key(text: str) -> str | None:
    """'key K appears twice, on lines A and B' for the first mapping of `text` that repeats a
    key (K dotted from the top, e.g. experiments.sw.vary), None if none does. yaml.YAMLError for
    a text that is not YAML. Merge keys (<<) may be overridden: that is what they are for."""
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        found = _repeated(node, "", set())
        if found:
            return found
    return None


def _repeated(node: yaml.Node, where: str, seen: set[int]) -> str | None:
    if id(node) in seen:  # an alias: checked where its anchor is
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            if key.tag == MERGE_TAG:
                continue
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            path = f"{where}.{name}" if where else name
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and (key.tag, key.value) in lines:
                return f"key {path!r} appears twice, on lines {lines[key.tag, key.value]} and {line}"
            if isinstance(key, yaml.ScalarNode):
                lines[key.tag, key.value] = line
            found = _repeated(value, path, seen)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _repeated(item, f"{where}[{i}]", seen)
            if found:
                return found
    return None


def check_config_files(paths: Iterable[str | Path]) -> None:
    """PlanError naming the file, the key and both lines for a config file that repeats a key.
    Files that are not plain YAML (Snakemake also reads JSON and yte templates) are left to
    Snakemake's own loader, which has read them already."""
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
            if "__use_yte__" in text:  # a yte template: its ?if/?else keys are not plain keys
                continue
            found = repeated_key(text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if found:
            raise PlanError(f"config file {str(path)!r}: {found}; YAML keeps only the last one, so the "
                            "first would be ignored without a word: keep one (or merge them)")


# --- --config values -----------------------------------------------------------------------
def coerce_overrides(overrides: dict, schema: dict) -> dict:
    """`overrides` (Snakemake's parsed --config values) with each string read as the type
    `schema` (the config's JSON schema) gives its key; see the module docstring."""
    return _coerce(dict(overrides), schema, schema)


def apply_overrides(config: dict, overrides: dict) -> None:
    """Write `overrides` into `config` as Snakemake merged them (mappings key by key, any other
    value replaced), so that each coerced value takes the place of its string."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            apply_overrides(config[key], value)
        else:
            config[key] = value


def _resolve(node: Any, root: dict) -> dict:
    """`node` with its $ref followed (keys beside the $ref kept)."""
    node = node if isinstance(node, dict) else {}
    while "$ref" in node:
        target = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = {**{k: v for k, v in node.items() if k != "$ref"}, **target}
    return node


def _alternatives(node: Any, root: dict) -> list[dict]:
    """`node` and, recursively, every branch of its oneOf / anyOf, each resolved."""
    node = _resolve(node, root)
    out = [node]
    for branch in node.get("oneOf", []) + node.get("anyOf", []):
        out += _alternatives(branch, root)
    return out


def _types(node: dict) -> list[str]:
    kind = node.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _coerce(value: Any, node: Any, root: dict) -> Any:
    lists_of = VALUE_LISTS.get(node.get("$ref")) if isinstance(node, dict) else None
    alternatives = _alternatives(node, root)
    if isinstance(value, dict):
        if lists_of:  # {parameter: [values]}: each value as the parameter's own type
            params = _resolve(root["$defs"][lists_of], root).get("properties", {})
            return {k: [_coerce(v, params.get(k, {}), root) for v in items] if isinstance(items, list) else items
                    for k, items in value.items()}
        mapping = next((a for a in alternatives if "object" in _types(a) or "properties" in a
                        or "additionalProperties" in a), None)
        if mapping is None:
            return value
        properties, rest = mapping.get("properties", {}), mapping.get("additionalProperties")
        return {k: _coerce(v, properties.get(k, rest if isinstance(rest, dict) else {}), root)
                for k, v in value.items()}
    if isinstance(value, list):
        sequence = next((a for a in alternatives if "items" in a), None)
        return [_coerce(v, sequence["items"], root) for v in value] if sequence else value
    if isinstance(value, str):
        return _scalar(value, alternatives)
    return value


def _scalar(text: str, alternatives: list[dict]) -> Any:
    """`text` as the first type the alternatives allow; `text` itself where none fits."""
    types = {t for a in alternatives for t in _types(a)}
    enums = [v for a in alternatives for v in a.get("enum", [])]
    try:
        written = yaml.safe_load(text)  # what YAML makes of it: null, a boolean, 1.5, ...
    except yaml.YAMLError:
        written = text
    if written is None and ("null" in types or None in enums):
        return None
    if isinstance(written, bool) and ("boolean" in types or written in enums):
        return written
    if text in enums or "string" in types:
        return text
    if "integer" in types and INTEGER.match(text.strip()):
        return int(text)
    if "number" in types:
        if INTEGER.match(text.strip()):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    return text
