"""Names that become parts of paths: image stems and blend names (results/runs/<content>/<style>/,
logs/runs/...), experiment names (results/tables/<name>.csv, results/figures/<name>/,
results/tune/<name>/, logs/aggregate/<name>.*.log). They are also Snakemake wildcard values and
shell arguments. Each kind is kept to a small ASCII alphabet, so that no name can leave results/
(`..`, `/`), hide (a leading dot), read as a flag (a leading dash), need quoting (spaces), or
name a file that something else writes. Pure Python: planning calls it.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from ...contracts import layout
from ...errors import PlanError

# An image stem or a blend name. '__' is refused as well: it joins content and style in pair
# keys (CONTENT__STYLE, manifest.pair_key), so a stem holding it would make keys ambiguous.
STEM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
STEM_RULE = ("names may contain only ASCII letters, digits, '.', '_' and '-' (no spaces, no '__', "
             "not starting with a dot or dash)")

# An experiment name: no '.', because results/tables/<name>.summary.csv and
# <name>.interactions.csv would be the tables of experiments named '<name>.summary' and
# '<name>.interactions'; not the name of a study-wide table (compared without case, as on
# macOS's and Windows' file systems).
EXPERIMENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
RESERVED_EXPERIMENTS = tuple(Path(table).stem for table in (layout.RUNS_TABLE, layout.TABLE5, layout.FINDINGS))
EXPERIMENT_RULE = ("experiment names may contain only ASCII letters, digits, '_' and '-' (no spaces, dots "
                   "or slashes), start with a letter or digit, and may not be "
                   f"{', '.join(RESERVED_EXPERIMENTS[:-1])} or {RESERVED_EXPERIMENTS[-1]}")


def is_stem(name: str) -> bool:
    return bool(STEM_PATTERN.match(name)) and "__" not in name


def suggested_stem(stem: str, fallback: str = "image") -> str:
    """A usable stem close to `stem` (accents dropped, other characters replaced by '_')."""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem)
    safe = re.sub(r"_{2,}", "_", safe).strip("._-")
    return safe or fallback


def _text(name: Any, where: str, what: str) -> str:
    if not isinstance(name, str):
        raise PlanError(f"config key {where!r}: {what} name must be text; quote it ({str(name)!r})")
    return name


def check_blend_name(name: Any, where: str) -> str:
    """`name` if it can be a style stem; PlanError naming the key and the rule otherwise."""
    if is_stem(_text(name, where, "a blend's")):
        return name
    raise PlanError(f"config key {where!r}: blend name {name!r} cannot be used (it becomes a folder of "
                    f"results/runs/): {STEM_RULE}; rename it, e.g. to {suggested_stem(name)!r}")


def check_experiment_name(name: Any, where: str) -> str:
    """`name` if it can name an experiment's files; PlanError naming the key and the rule otherwise."""
    if EXPERIMENT_PATTERN.match(_text(name, where, "an experiment's")) and name.lower() not in RESERVED_EXPERIMENTS:
        return name
    suggestion = suggested_stem(name.replace(".", "_"), fallback="experiment")
    if suggestion.lower() in RESERVED_EXPERIMENTS:
        suggestion += "_experiment"
    raise PlanError(f"config key {where!r}: experiment name {name!r} cannot be used (it names files under "
                    f"results/ and logs/): {EXPERIMENT_RULE}; rename it, e.g. to {suggestion!r}")
