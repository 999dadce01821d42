"""Tables of a study: runs.csv, one CSV per experiment, and the paper's Table 5.

Inputs are the planner's manifest (which trials make up which experiment, which evaluators
score the runs) and the finished runs under `results/runs/<content>/<style>/<run_id>/`: run.json
and, per evaluator, `scores/<evaluator hash>.json` (nst/run/score.py). Only pandas, numpy and the
standard library: no torch, no snakemake.

Column contract
---------------
runs table (`runs_table`, one row per distinct (content, style, run_id) of the manifest):
    content, style, run_id, <every RunParams field>, status, diverged_at, iterations_done,
    final_content, final_style, final_total, eval_content, eval_style, eval_total,
    ssim_content, color_distance_style, seconds, device, weights, random_weights
    then per evaluator N of the manifest (Evaluator.columns): score_N_style, score_N_content,
    score_N_total, score_N_<metric> per image metric, score_N_style_<layer> and
    score_N_content_<layer> (each layer's own term), score_N_evaluator (its name, hash and
    settings, the same on every row).
  Parameter lists are joined with ',' (empty list -> ''), None is empty. The run's `device`
  (what it ran on) and `weights` (the weights source of its record) are run columns; the two
  parameters of the same name are kept as `param_device` and `param_weights`. eval_* and the
  two metrics after them are run.json's (the paper's definition on the run's own network).
experiment table (`experiment_table`, one row per trial, in plan order):
    experiment, trial, content, style, run_id, label, <one column per varied key>, <the rest of
    the runs columns>; kind "tune" adds `selected` (bool), `note`, `selection_score` (what the
    rule minimised) and `pareto_rank` (1 = on the pair's Pareto front of the select evaluator's
    style and content scores; empty for runs that are not candidates).
  A varied key that is a run parameter takes the run's own (normalised) value.
Table 5 (`table5`): see its docstring.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AggregateError, MissingRunError
from ..run.evaluate import SCORE_METRICS, TWO_SIDED, EvaluationError, Evaluator, describe_select
from ..files import atomic_path
from . import layout
from ..run.params import FIELD_NAMES, RunParams
from ..run.presets import PRESETS

KINDS = ("vary", "subsets", "grid", "pairs", "tune")
KEY_COLUMNS = ["content", "style", "run_id"]
METRIC_COLUMNS = [
    "final_content", "final_style", "final_total",
    "eval_content", "eval_style", "eval_total", "ssim_content", "color_distance_style",
]
RUN_COLUMNS = ["status", "diverged_at", "iterations_done", *METRIC_COLUMNS,
               "seconds", "device", "weights", "random_weights"]
# parameters whose name is also a run column keep this prefix in the tables
PARAM_PREFIX = "param_"
STRING_COLUMNS = ("experiment", "content", "style", "run_id", "label")
# what select.metric may name (besides pareto / tradeoff and the evaluator's score_* metrics)
RUN_METRICS = ("eval_total", "eval_style", "eval_content", "final_total", "ssim_content",
               "color_distance_style")
RANDOM_NOTE = "RANDOM WEIGHTS - not real style transfer"


# --- manifest ------------------------------------------------------------------------------
def load_manifest(path: str | os.PathLike) -> dict:
    """Read the planner's manifest and check the parts the tables rely on.

    Fills defaults: keys [], base "", title = name, paper "", select None, results_array None,
    images {"content": {}, "style": {}}.
    """
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise AggregateError(f"manifest {str(path)!r} does not exist") from None
    except json.JSONDecodeError as err:
        raise AggregateError(f"manifest {str(path)!r} is not valid JSON: {err}") from None
    return check_manifest(manifest, source=str(path))


def check_manifest(manifest: dict, source: str = "manifest") -> dict:
    if not isinstance(manifest, dict):
        raise AggregateError(f"{source}: the manifest must be a JSON object")
    experiments = manifest.get("experiments")
    trials = manifest.get("trials")
    if not isinstance(experiments, dict):
        raise AggregateError(f"{source}: 'experiments' must be an object name -> experiment")
    if not isinstance(trials, list):
        raise AggregateError(f"{source}: 'trials' must be a list")
    manifest.setdefault("evaluation", [])
    evaluators(manifest)  # checked first: select and the tables rely on it
    for name, exp in experiments.items():
        if not isinstance(exp, dict):
            raise AggregateError(f"{source}: experiment {name!r} must be an object")
        if exp.get("kind") not in KINDS:
            raise AggregateError(
                f"{source}: experiment {name!r} has kind {exp.get('kind')!r} "
                f"(allowed: {' | '.join(KINDS)})")
        exp.setdefault("keys", [])
        exp.setdefault("base", "")
        exp.setdefault("title", name)
        exp.setdefault("paper", "")
        exp.setdefault("select", None)
        if exp["kind"] == "tune":
            _check_select(name, exp.get("select"), source, manifest)
    for i, trial in enumerate(trials):
        missing = [k for k in ("experiment", "content", "style", "run_id") if k not in trial]
        if missing:
            raise AggregateError(f"{source}: trial {i} lacks {', '.join(missing)}")
        if trial["experiment"] not in experiments:
            raise AggregateError(
                f"{source}: trial {i} names unknown experiment {trial['experiment']!r}")
        for key in ("experiment", "content", "style", "run_id"):
            trial[key] = str(trial[key])
        trial.setdefault("values", {})
        trial.setdefault("label", _default_label(trial["values"]))
    array = manifest.setdefault("results_array", None)
    if array is not None:
        for role in ("baseline", "revised"):
            if array.get(role) not in experiments:
                raise AggregateError(
                    f"{source}: results_array.{role} names unknown experiment {array.get(role)!r}")
    images = manifest.setdefault("images", {})
    images.setdefault("content", {})
    images.setdefault("style", {})
    return manifest


def evaluators(manifest: dict) -> list[Evaluator]:
    """The manifest's evaluators (its `evaluation`, checked), the main one first."""
    entries = manifest.get("evaluation") or []
    if not isinstance(entries, list):
        raise AggregateError("manifest: 'evaluation' must be a list of {name, hash, settings}")
    try:
        return [Evaluator.from_dict(e, f"evaluation[{i}]") for i, e in enumerate(entries)]
    except EvaluationError as err:
        raise AggregateError(f"manifest: {err}") from None


def _check_select(name: str, select: Any, source: str, manifest: dict | None = None) -> None:
    """Fill select's defaults: metric pareto (run.json's eval_total for a manifest without
    evaluators), mode min, evaluator the main one, style_share 0.5, override {}."""
    if not isinstance(select, dict):
        raise AggregateError(f"{source}: tune experiment {name!r} needs 'select' "
                             "{metric, mode, override}")
    if select.get("mode", "min") not in ("min", "max"):
        raise AggregateError(f"{source}: experiment {name!r}: select.mode must be min | max, "
                             f"not {select.get('mode')!r}")
    names = [e.get("name") for e in (manifest or {}).get("evaluation") or [] if isinstance(e, dict)]
    select.setdefault("mode", "min")
    select.setdefault("metric", "pareto" if names else "eval_total")
    select["override"] = select.get("override") or {}
    metric = select["metric"]
    if (metric in TWO_SIDED or metric in SCORE_METRICS) and not names:
        raise AggregateError(f"{source}: experiment {name!r}: select.metric {metric!r} needs the "
                             "scores of an evaluator, and the manifest has no 'evaluation'")
    if names:
        select.setdefault("evaluator", names[0])
        if select["evaluator"] not in names:
            raise AggregateError(f"{source}: experiment {name!r}: select.evaluator "
                                 f"{select['evaluator']!r} is not one of {', '.join(names)}")
    if metric in TWO_SIDED:
        if select["mode"] != "min":
            raise AggregateError(f"{source}: experiment {name!r}: select.metric {metric} minimises "
                                 "both distances; select.mode max applies to one-sided metrics only")
        share = select.setdefault("style_share", 0.5)
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share <= 1:
            raise AggregateError(f"{source}: experiment {name!r}: select.style_share must be a number "
                                 f"in [0, 1], not {share!r}")


def _default_label(values: dict) -> str:
    return ", ".join(f"{k}={_cell(v)}" for k, v in values.items()) or "-"


def experiment_trials(manifest: dict, name: str) -> list[dict]:
    if name not in manifest["experiments"]:
        raise AggregateError(
            f"unknown experiment {name!r}; the manifest has: {', '.join(manifest['experiments'])}")
    return [t for t in manifest["trials"] if t["experiment"] == name]


def pair_key(content: str, style: str) -> str:
    """How select.override names a pair."""
    return f"{content}__{style}"


# --- one run -------------------------------------------------------------------------------
def run_dir(runs_dir: str | os.PathLike, content: str, style: str, run_id: str) -> Path:
    return Path(layout.run_folder(content, style, run_id, runs=runs_dir))


def read_run(runs_dir, content: str, style: str, run_id: str) -> dict:
    path = run_dir(runs_dir, content, style, run_id) / "run.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MissingRunError(f"run record {str(path)!r} is missing (run {run_id} of "
                              f"{content} x {style} has not finished)") from None
    except json.JSONDecodeError as err:
        raise AggregateError(f"run record {str(path)!r} is not valid JSON: {err}") from None


def score_path(runs_dir, content: str, style: str, run_id: str, evaluator: Evaluator) -> Path:
    return run_dir(runs_dir, content, style, run_id) / "scores" / f"{evaluator.hash}.json"


def read_scores(runs_dir, content: str, style: str, run_id: str, evaluator: Evaluator) -> dict:
    """A run's score file for `evaluator` (written by `nst score`), checked against both."""
    path = score_path(runs_dir, content, style, run_id, evaluator)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise MissingRunError(f"score file {str(path)!r} is missing: run {run_id} of {content} x "
                              f"{style} has not been scored by evaluator {evaluator.name} "
                              f"[{evaluator.hash}] (the workflow's `score` rule makes it)") from None
    except json.JSONDecodeError as err:
        raise AggregateError(f"score file {str(path)!r} is not valid JSON: {err}") from None
    if (data.get("evaluator") or {}).get("hash") != evaluator.hash or str(data.get("run_id")) != run_id:
        raise AggregateError(f"score file {str(path)!r} is not evaluator {evaluator.hash}'s score of run {run_id}")
    return data


def score_cells(evaluator: Evaluator, data: dict | None) -> dict:
    """The runs-table cells of one evaluator's score file (None: every cell empty)."""
    s = (data or {}).get("scores") or {}
    settings = evaluator.settings
    cells = {evaluator.column(w): s.get(w) for w in ("style", "content", "total", *settings["metrics"])}
    cells.update({evaluator.column(f"style_{n}"): (s.get("style_layers") or {}).get(n)
                  for n in settings["style_layers"]})
    cells.update({evaluator.column(f"content_{n}"): (s.get("content_layers") or {}).get(n)
                  for n in settings["content_layers"]})
    cells[evaluator.column("evaluator")] = evaluator.describe()
    return cells


def _cell(value: Any) -> Any:
    """A parameter value as one CSV cell: lists joined with ',', None empty."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


def run_row(record: dict, content: str, style: str,
            scores: list[tuple[Evaluator, dict]] = ()) -> dict:
    params = record.get("params", {})
    names = list(FIELD_NAMES) + sorted(set(params) - set(FIELD_NAMES))
    row: dict[str, Any] = {"content": content, "style": style, "run_id": record["run_id"]}
    for name in names:
        column = PARAM_PREFIX + name if name in RUN_COLUMNS else name
        row[column] = _cell(params.get(name))
    final = record.get("final", {})
    evaluation = record.get("evaluation", {})
    weights = record.get("weights") or {}
    row.update({
        "status": record.get("status"),
        "diverged_at": record.get("diverged_at"),
        "iterations_done": record.get("iterations_done"),
        "final_content": final.get("content"),
        "final_style": final.get("style"),
        "final_total": final.get("total"),
        **{k: evaluation.get(k) for k in METRIC_COLUMNS[3:]},
        "seconds": (record.get("timing") or {}).get("seconds"),
        "device": record.get("device"),
        "weights": params.get("weights", weights.get("source")),  # what the config named: imagenet, caffe, a path
        "random_weights": bool(record.get("random_weights", weights.get("random", False))),
    })
    for evaluator, data in scores:
        row.update(score_cells(evaluator, data))
    return row


# --- tables --------------------------------------------------------------------------------
def runs_table(manifest: dict, runs_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per distinct (content, style, run_id) of the manifest, in first-seen order."""
    seen: dict[tuple[str, str, str], None] = {}
    for trial in manifest["trials"]:
        seen.setdefault((str(trial["content"]), str(trial["style"]), str(trial["run_id"])), None)
    rows = []
    scorers = evaluators(manifest)
    for content, style, run_id in seen:
        record = read_run(runs_dir, content, style, run_id)
        if str(record.get("run_id")) != run_id:
            raise AggregateError(
                f"{run_dir(runs_dir, content, style, run_id) / 'run.json'} holds run "
                f"{record.get('run_id')!r}, not {run_id!r}")
        scores = [(ev, read_scores(runs_dir, content, style, run_id, ev)) for ev in scorers]
        rows.append(run_row(record, content, style, scores))
    if not rows:
        return pd.DataFrame(columns=KEY_COLUMNS + [PARAM_PREFIX + n if n in RUN_COLUMNS else n
                                                   for n in FIELD_NAMES] + RUN_COLUMNS
                            + [c for ev in scorers for c in ev.columns()])
    table = pd.DataFrame(rows)
    table["random_weights"] = table["random_weights"].astype(bool)
    return table


def _runs_index(runs: pd.DataFrame) -> dict[tuple[str, str, str], dict]:
    return {(str(r["content"]), str(r["style"]), str(r["run_id"])): r
            for r in runs.to_dict("records")}


def _param_column(key: str) -> str:
    return PARAM_PREFIX + key if key in RUN_COLUMNS else key


def experiment_table(manifest: dict, runs: pd.DataFrame, name: str) -> pd.DataFrame:
    """One row per trial of experiment `name`, in plan order (see the module docstring)."""
    exp = manifest["experiments"].get(name)
    trials = experiment_trials(manifest, name)
    keys = [str(k) for k in exp.get("keys", [])]
    index = _runs_index(runs)
    run_columns = [c for c in runs.columns if c not in KEY_COLUMNS]
    key_columns = [_param_column(k) for k in keys]
    rows = []
    for position, trial in enumerate(trials):
        key = (trial["content"], trial["style"], trial["run_id"])
        if key not in index:
            raise AggregateError(f"experiment {name!r}: run {key[2]} of {key[0]} x {key[1]} "
                                 "is not in the runs table")
        run = index[key]
        row: dict[str, Any] = {"experiment": name, "trial": position, "content": key[0],
                               "style": key[1], "run_id": key[2], "label": trial.get("label")}
        for k, column in zip(keys, key_columns):
            row[column] = run[column] if column in run else _cell(trial["values"].get(k))
        row.update({c: run[c] for c in run_columns if c not in key_columns})
        rows.append(row)
    columns = (["experiment", "trial", "content", "style", "run_id", "label"] + key_columns
               + [c for c in run_columns if c not in key_columns])
    table = pd.DataFrame(rows, columns=columns)
    if exp["kind"] == "tune":
        table = _select(table, manifest, name, runs)
    return table


def pairs_in_order(table: pd.DataFrame) -> list[tuple[str, str]]:
    return list(dict.fromkeys(zip(table["content"].astype(str), table["style"].astype(str))))


def selection_axes(manifest: dict, select: dict) -> tuple[str, str]:
    """(style column, content column) a tuned experiment's candidates are compared on: the
    select evaluator's scores, or run.json's eval_* for a manifest without evaluators."""
    name = select.get("evaluator")
    for ev in evaluators(manifest):
        if ev.name == name:
            return ev.column("style"), ev.column("content")
    return "eval_style", "eval_content"


def metric_column(manifest: dict, select: dict) -> str | None:
    """The column a one-sided select.metric names (score_* resolved against select.evaluator);
    None for a two-sided rule."""
    metric = select["metric"]
    if metric in TWO_SIDED:
        return None
    if metric in SCORE_METRICS:
        return f"score_{select['evaluator']}_{metric[len('score_'):]}"
    return metric


def pareto_ranks(points: dict[int, tuple[float, float]]) -> dict[int, int]:
    """Non-dominated sorting of points to minimise in both coordinates: rank 1 = the Pareto
    front, rank 2 = the front once rank 1 is removed, ..."""
    ranks: dict[int, int] = {}
    left = dict(points)
    rank = 1
    while left:
        front = [i for i, (a, b) in left.items()
                 if not any(x <= a and y <= b and (x < a or y < b) for j, (x, y) in left.items() if j != i)]
        for i in front:
            ranks[i] = rank
            del left[i]
        rank += 1
    return ranks


def relative_excess(values: dict[int, float]) -> dict[int, float]:
    """Each value's excess over the smallest, as a fraction of the smallest: (v - best) / best,
    so the scale of a score does not matter and candidates that are worse on it (dominated ones
    included) never move the others' numbers. A best of exactly 0 falls back on the range."""
    best, worst = min(values.values()), max(values.values())
    scale = best if best > 0 else (worst - best)
    return {i: (v - best) / scale if scale > 0 else 0.0 for i, v in values.items()}


def two_sided_scores(points: dict[int, tuple[float, float]], metric: str,
                     style_share: float = 0.5) -> dict[int, float]:
    """What a two-sided rule minimises, per candidate (points: (style, content), finite, >= 0).
    pareto: the distance to the ideal point (best style, best content) once each score is taken
    relative to its best (relative_excess); the nearest point is on the Pareto front, since a
    dominated point is farther than the point dominating it. tradeoff: style_share x style +
    (1 - style_share) x content, on the same relative scale."""
    style = relative_excess({i: p[0] for i, p in points.items()})
    content = relative_excess({i: p[1] for i, p in points.items()})
    if metric == "pareto":
        return {i: math.hypot(style[i], content[i]) for i in points}
    if metric == "tradeoff":
        return {i: style_share * style[i] + (1 - style_share) * content[i] for i in points}
    raise AggregateError(f"unknown two-sided rule {metric!r}; allowed: {', '.join(TWO_SIDED)}")


def _select(table: pd.DataFrame, manifest: dict, name: str, runs: pd.DataFrame) -> pd.DataFrame:
    select = manifest["experiments"][name]["select"]
    metric, mode, overrides = select["metric"], select["mode"], dict(select["override"])
    column = metric_column(manifest, select)
    axes = selection_axes(manifest, select)
    for needed in ([column] if column else list(axes)):
        if needed not in table.columns:
            raise AggregateError(
                f"experiment {name!r}: select.metric {metric!r} needs the column {needed!r}, which "
                f"the table does not have (e.g. {', '.join(RUN_METRICS + TWO_SIDED + SCORE_METRICS)})")
    pairs = pairs_in_order(table)
    unknown = sorted(set(overrides) - {pair_key(c, s) for c, s in pairs})
    if unknown:
        raise AggregateError(
            f"experiment {name!r}: select.override names pair {unknown[0]!r}, which the "
            f"experiment does not have (pairs: {', '.join(pair_key(c, s) for c, s in pairs)})")
    trials = experiment_trials(manifest, name)
    selected = [False] * len(table)
    notes = [""] * len(table)
    scores: list[float | None] = [None] * len(table)
    ranks: list[int | None] = [None] * len(table)
    rule = describe_select(select)
    for content, style in pairs:
        rows = [i for i in range(len(table))
                if table.at[i, "content"] == content and table.at[i, "style"] == style]
        ok = [i for i in rows if table.at[i, "status"] == "ok"]
        points = {i: (_number(table.at[i, axes[0]]), _number(table.at[i, axes[1]])) for i in ok}
        points = {i: p for i, p in points.items() if None not in p}
        for i, rank in pareto_ranks(points).items():
            ranks[i] = rank
        if column is None:
            values = two_sided_scores(points, metric, float(select.get("style_share", 0.5))) if points else {}
        else:
            values = {i: _number(table.at[i, column]) for i in ok}
            values = {i: v for i, v in values.items() if v is not None}
        for i, v in values.items():
            scores[i] = v
        pk = pair_key(content, style)
        if pk in overrides:
            wanted = overrides[pk]
            matches = [i for i in rows if _matches(wanted, trials[i]["values"], table.iloc[i])]
            if not matches:
                raise AggregateError(
                    f"experiment {name!r}: select.override for pair {pk!r} ({wanted}) matches "
                    f"none of its trials ({'; '.join(str(table.at[i, 'label']) for i in rows)})")
            if len({table.at[i, "run_id"] for i in matches}) > 1:
                raise AggregateError(
                    f"experiment {name!r}: select.override for pair {pk!r} ({wanted}) matches "
                    f"{len(matches)} trials "
                    f"({'; '.join(str(table.at[i, 'label']) for i in matches)}); "
                    "name more parameters")
            chosen = matches[0]
            selected[chosen] = True
            notes[chosen] = "selected by override"
            if table.at[chosen, "status"] != "ok":
                notes[chosen] += f" (run {table.at[chosen, 'status']})"
            continue
        if not values:
            what = f"finite {axes[0]} and {axes[1]}" if column is None else f"a finite {column}"
            reason = ("all runs diverged" if not ok else f"no ok run has {what}")
            for i in rows:
                notes[i] = f"{reason}: nothing selected"
            continue
        sign = 1.0 if mode == "min" or column is None else -1.0
        best = min(values, key=lambda i: (sign * values[i], i))  # ties: the first in plan order
        selected[best] = True
        notes[best] = f"selected: {rule}"
    table["selected"] = selected
    table["note"] = notes
    table["selection_score"] = pd.array(scores, dtype="Float64").astype(float)
    table["pareto_rank"] = pd.array(ranks, dtype="Int64")
    return table


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _normalise(key: str, value: Any) -> Any:
    """A parameter value in RunParams' canonical form where possible, for comparisons."""
    if key in FIELD_NAMES:
        if isinstance(value, float) and math.isnan(value):
            value = None
        try:
            value = getattr(RunParams.from_dict({key: value}), key)
        except (ValueError, TypeError):
            pass
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    number = _number(value)
    if number is not None:
        return number
    return str(value).strip().lower()


def _matches(wanted: dict, values: dict, row: pd.Series) -> bool:
    for key, want in wanted.items():
        column = _param_column(key)
        if key in values:
            have = values[key]
        elif column in row.index:
            have = row[column]
        else:
            return False
        a, b = _normalise(key, want), _normalise(key, have)
        if isinstance(a, float) and isinstance(b, float):
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0):
                return False
        elif a != b:
            return False
    return True


# --- Table 5 -------------------------------------------------------------------------------
TABLE5_COLUMNS = [
    "row", "content", "style",
    "baseline_L_S", "baseline_L_C", "revised_L_S", "revised_L_C",
    "baseline_eval_style", "baseline_eval_content", "baseline_eval_total",
    "revised_eval_style", "revised_eval_content", "revised_eval_total",
    "baseline_ssim", "revised_ssim", "baseline_color_distance", "revised_color_distance",
    "baseline_status", "revised_status", "baseline_run_id", "revised_run_id",
    "baseline_label", "revised_label", "random_weights", "note",
]


def baseline_trial_index(manifest: dict, table: pd.DataFrame, name: str,
                         content: str, style: str) -> int | None:
    """Row of `table` (experiment `name`) that is the pair's baseline: its only trial, else the
    one whose varied values equal the experiment's base preset, else the first."""
    rows = [i for i in range(len(table))
            if table.at[i, "content"] == content and table.at[i, "style"] == style]
    if len(rows) <= 1:
        return rows[0] if rows else None
    base = PRESETS.get(manifest["experiments"][name].get("base", ""), None)
    if base is not None:
        trials = experiment_trials(manifest, name)
        for i in rows:
            values = trials[int(table.at[i, "trial"])]["values"]
            if values and all(k in base and _matches({k: base[k]}, {k: v}, table.iloc[i])
                              for k, v in values.items()):
                return i
    return rows[0]


def table5(manifest: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 5, one row per pair of the revised (tune) experiment, in plan order.

    baseline_L_S / baseline_L_C: the baseline run's own final style / content loss;
    revised_L_S / revised_L_C: those of the selected revised run (its own definition: L1,
    ReLU layers, tuned weights), so the two are not comparable; the *_eval_* columns are the
    fixed reference evaluation of both images, which is. After TABLE5_COLUMNS, per evaluator N
    of the manifest: baseline_score_N_<w> and revised_score_N_<w> for its style, content, total
    and image metrics, and score_N_evaluator (its name and settings). A pair with no selected
    revised run has empty revised columns and a note.
    """
    array = manifest.get("results_array")
    if not array:
        raise AggregateError("the manifest has no results_array (baseline and revised "
                             "experiments): there is no Table 5 to make")
    base_name, rev_name = array["baseline"], array["revised"]
    base = experiment_table(manifest, runs, base_name)
    rev = experiment_table(manifest, runs, rev_name)
    scorers = evaluators(manifest)
    rows = []
    for number, (content, style) in enumerate(pairs_in_order(rev), start=1):
        b = baseline_trial_index(manifest, base, base_name, content, style)
        if b is None:
            raise AggregateError(f"results_array: the baseline experiment {base_name!r} has no "
                                 f"trial for pair {pair_key(content, style)!r}")
        pair_rows = [i for i in range(len(rev))
                     if rev.at[i, "content"] == content and rev.at[i, "style"] == style]
        if "selected" in rev.columns:
            chosen = [i for i in pair_rows if bool(rev.at[i, "selected"])]
        else:
            chosen = pair_rows[:1]
        r = chosen[0] if chosen else None
        brow = base.iloc[b]
        rrow = rev.iloc[r] if r is not None else None
        note = "" if rrow is not None else (
            str(rev.at[pair_rows[0], "note"]) if "note" in rev.columns else "no revised run")

        def get(row, column):
            return None if row is None else row[column]

        rows.append({
            "row": number, "content": content, "style": style,
            "baseline_L_S": brow["final_style"], "baseline_L_C": brow["final_content"],
            "revised_L_S": get(rrow, "final_style"), "revised_L_C": get(rrow, "final_content"),
            "baseline_eval_style": brow["eval_style"],
            "baseline_eval_content": brow["eval_content"],
            "baseline_eval_total": brow["eval_total"],
            "revised_eval_style": get(rrow, "eval_style"),
            "revised_eval_content": get(rrow, "eval_content"),
            "revised_eval_total": get(rrow, "eval_total"),
            "baseline_ssim": brow["ssim_content"], "revised_ssim": get(rrow, "ssim_content"),
            "baseline_color_distance": brow["color_distance_style"],
            "revised_color_distance": get(rrow, "color_distance_style"),
            "baseline_status": brow["status"], "revised_status": get(rrow, "status"),
            "baseline_run_id": brow["run_id"], "revised_run_id": get(rrow, "run_id"),
            "baseline_label": brow["label"], "revised_label": get(rrow, "label"),
            "random_weights": bool(brow["random_weights"])
                              or (rrow is not None and bool(rrow["random_weights"])),
            "note": note,
        })
        for ev in scorers:
            for column in ev.summary_columns():
                rows[-1][f"baseline_{column}"] = brow.get(column)
                rows[-1][f"revised_{column}"] = None if rrow is None else rrow.get(column)
            rows[-1][ev.column("evaluator")] = ev.describe()
    extra = [c for ev in scorers
             for c in [f"{role}_{col}" for col in ev.summary_columns() for role in ("baseline", "revised")]
             + [ev.column("evaluator")]]
    return pd.DataFrame(rows, columns=TABLE5_COLUMNS + list(dict.fromkeys(extra)))


# --- files ---------------------------------------------------------------------------------
def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write `df` without its index, under a temporary name renamed into place."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by write_csv, keeping image stems, run ids and labels as text."""
    head = pd.read_csv(path, nrows=0).columns
    dtype = {c: str for c in STRING_COLUMNS if c in head}
    dtype.update({c: str for c in head if c.endswith("_run_id") or c.endswith("_label")})
    table = pd.read_csv(path, dtype=dtype, keep_default_na=False,
                        na_values={c: [""] for c in head if c not in dtype})
    return table
