"""The gallery page's data (data.js): every run of the study, from the tables the study already
writes: runs.csv (one row per run: settings, status, own losses, every evaluator's scores), the
manifest (experiments, trials, their labels, where successive halving stopped a candidate) and
the tuned experiments' tables (which candidate each pair selected).

The data is columnar, so that 10,000 runs stay a few MB: each field is either
    {"values": [v, ...], "codes": [i per run]}   a setting or text: its distinct values once
    {"values": [v]}                              the same for every run
    {"numbers": [x or null per run]}             a loss, score or time (6 significant digits)
and `fields` says what each one is: group param (a run setting, `varies` when it takes more
than one value in the study), loss (the run's own), score (an evaluator's, comparable across
runs), eval (run.json's reference evaluation on the run's own network), run (status, time, ...).
`trials[i]` lists run i's trials as [experiment index, label, selected (1/0, null when not
tuned), stopped_at (null unless halving stopped it)]. Pandas only; no torch.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from ...contracts.cells import finite_array
from ...contracts.selection import describe_select
from ...contracts.manifest import Manifest
from ...contracts.params import RunParams
from ...errors import AggregateError
from ..tables.aggregate import KEY_COLUMNS, METRIC_COLUMNS, PARAM_PREFIX, RANDOM_NOTE, RUN_COLUMNS

DATA_FORMAT = 1  # raise it whenever data.js changes shape (the page checks it)
LOSSES = ["final_total", "final_content", "final_style"]
EVALS = METRIC_COLUMNS[3:]  # eval_*, ssim_content, color_distance_style: run.json's evaluation
RUN_NUMBERS = ["iterations_done", "diverged_at", "seconds"]
RUN_TEXT = ["status", "device", "random_weights"]  # (weights: the param_weights setting)
DIGITS = 6


def identity_columns(runs: pd.DataFrame) -> list[str]:
    """runs.csv's columns of the settings that make a run (execution settings left out: they
    never change an image), in RunParams order; then parameters this nst does not know."""
    known = {f.name: f for f in dataclasses.fields(RunParams)}
    columns = [PARAM_PREFIX + name if name in RUN_COLUMNS else name
               for name, f in known.items() if f.metadata.get("identity", True)]
    taken = set(KEY_COLUMNS) | set(RUN_COLUMNS) | {PARAM_PREFIX + n if n in RUN_COLUMNS else n for n in known}
    extra = [c for c in runs.columns if c not in taken and not c.startswith("score_")]
    return [c for c in columns if c in runs.columns] + extra


def _plain(value: Any) -> Any:
    """A table cell as JSON: numbers as int/float (NaN -> None), numpy scalars unwrapped."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def encode_values(column: pd.Series) -> dict:
    """A setting or text column: its distinct values (first seen first) and each run's code."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)  # NaN (an empty cell): a value too
    values = [_plain(v) for v in uniques]
    return {"values": values} if len(values) <= 1 else {"values": values, "codes": codes.tolist()}


def encode_numbers(column: pd.Series) -> dict:
    """A loss, score or time: each run's value to DIGITS significant digits, None when not finite."""
    values = finite_array(column)
    finite = (~np.isnan(values)).tolist()
    return {"numbers": [float(f"{v:.{DIGITS}g}") if ok else None for v, ok in zip(values.tolist(), finite)]}


def score_columns(manifest: Manifest, runs: pd.DataFrame) -> list[str]:
    """Every evaluator's numeric columns (summary scores first, then each layer's term)."""
    columns = [c for ev in manifest.evaluation for c in ev.columns() if c != ev.column("evaluator")]
    return [c for c in columns if c in runs.columns]


def field(name: str, group: str, kind: str, varies: bool = False) -> dict:
    label = name[len(PARAM_PREFIX):] if name.startswith(PARAM_PREFIX) else name
    return {"name": name, "label": label, "group": group, "type": kind, "varies": varies}


def _selected(manifest: Manifest, tables: dict[str, pd.DataFrame], name: str) -> list:
    """Per trial of tuned experiment `name`: 1 selected, 0 not; its table row by row (plan order)."""
    trials = manifest.trials_of(name)
    if name not in tables:
        raise AggregateError(f"gallery: the table of tuned experiment {name!r} is missing")
    table = tables[name]
    if "selected" not in table.columns or len(table) != len(trials) or [str(v) for v in table["run_id"]] != [
            t.run_id for t in trials]:
        raise AggregateError(f"gallery: the table of experiment {name!r} does not fit the manifest "
                             "(is it out of date? rerun snakemake)")
    return [1 if str(v).strip().lower() in ("true", "1") else 0 for v in table["selected"]]


def run_trials(manifest: Manifest, runs: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> list[list]:
    """trials[i]: run i's trials, [experiment index, label, selected, stopped_at]."""
    index = {key: i for i, key in enumerate(zip(*(runs[c].astype(str) for c in KEY_COLUMNS)))}
    out: list[list] = [[] for _ in range(len(runs))]
    for e, (name, exp) in enumerate(manifest.experiments.items()):
        trials = manifest.trials_of(name)
        selected = _selected(manifest, tables, name) if exp.kind == "tune" else [None] * len(trials)
        for trial, chosen in zip(trials, selected):
            key = (trial.content, trial.style, trial.run_id)
            if key not in index:
                raise AggregateError(f"gallery: run {trial.run_id} of {trial.content} x {trial.style} "
                                     f"(experiment {name!r}) is not in runs.csv; rerun snakemake")
            out[index[key]].append([e, trial.label, chosen, trial.stopped_at])
    return out


def experiments(manifest: Manifest) -> list[dict]:
    return [{"name": name, "kind": exp.kind, "title": exp.title or name, "paper": exp.paper,
             "base": exp.base, "keys": list(exp.keys),
             "select": describe_select(exp.select) if exp.select else None,
             "halving": bool(exp.halving)}
            for name, exp in manifest.experiments.items()]


def gallery_data(manifest: Manifest, runs: pd.DataFrame, tables: dict[str, pd.DataFrame],
                 images: dict[str, dict[str, str]] | None = None) -> dict:
    """The page's data (see the module docstring). `runs`: runs.csv as aggregate.read_csv reads
    it; `tables`: the tuned experiments' tables; `images`: {"content"|"style": {stem: path of
    its copy inside the gallery}}. AggregateError when the tables do not fit the manifest."""
    runs = runs.reset_index(drop=True)
    fields, columns = [], {}
    for name in KEY_COLUMNS:
        fields.append(field(name, "key", "text", varies=True))
        columns[name] = encode_values(runs[name].astype(str))
    for name in identity_columns(runs):
        encoded = encode_values(runs[name])
        fields.append(field(name, "param", "value", varies="codes" in encoded))
        columns[name] = encoded
    groups = [(RUN_TEXT, "run", "text"), (RUN_NUMBERS, "run", "number"), (LOSSES, "loss", "number"),
              (score_columns(manifest, runs), "score", "number"), (EVALS, "eval", "number")]
    for names, group, kind in groups:
        for name in [n for n in names if n in runs.columns]:
            fields.append(field(name, group, kind))
            columns[name] = encode_numbers(runs[name]) if kind == "number" else encode_values(runs[name])
    random = "random_weights" in runs.columns and bool(runs["random_weights"].astype(str).str.lower()
                                                       .isin(["true", "1"]).any())
    return {
        "format": DATA_FORMAT,
        "count": len(runs),
        "random_weights": random,
        "random_note": RANDOM_NOTE,
        "evaluators": [{"name": ev.name, "hash": ev.hash, "text": ev.describe(),
                        "columns": [c for c in ev.summary_columns() if c in runs.columns]}
                       for ev in manifest.evaluation],
        "experiments": experiments(manifest),
        "images": images or {"content": {}, "style": {}},
        "fields": fields,
        "columns": columns,
        "trials": run_trials(manifest, runs, tables),
    }


def data_script(data: dict) -> str:
    """data.js's text: the page loads it with <script src> (file:// pages may not fetch())."""
    return "window.NST_GALLERY = " + json.dumps(data, separators=(",", ":"), allow_nan=False) + ";\n"
