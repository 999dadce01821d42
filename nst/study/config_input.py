"""The workflow's config as Snakemake hands it over, made what its author wrote (pure Python;
workflow/rules/common.smk calls these before the schema check):

- Repeated keys. YAML lets a mapping repeat a key, the last one winning, and the YAML loaders
  Snakemake and PyYAML use accept that silently: a second `experiments:` drops the first
  section without a word. repeated_key finds the first repeated key of a YAML text, with its
  dotted path and both lines; check_config_files refuses a config file that has one (claims
  files are checked by nst/study/findings.py the same way).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import yaml

from ..errors import PlanError

MERGE_TAG = "tag:yaml.org,2002:merge"


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
