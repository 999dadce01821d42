"""Tables of a study: runs.csv, one CSV per experiment, and the paper's Table 5.

Inputs are the planner's manifest (which trials make up which experiment) and the finished runs
under `results/runs/<content>/<style>/<run_id>/run.json`. Only pandas and the standard library:
no torch, no snakemake.

Column contract
---------------
runs table (`runs_table`, one row per distinct (content, style, run_id) of the manifest):
    content, style, run_id, <every RunParams field>, status, diverged_at, iterations_done,
    final_content, final_style, final_total, eval_content, eval_style, eval_total,
    ssim_content, color_distance_style, seconds, device, weights, random_weights
  Parameter lists are joined with ',' (empty list -> ''), None is empty. The run's `device`
  (what it ran on) and `weights` (the weights source of its record) are run columns; the two
  parameters of the same name are kept as `param_device` and `param_weights`.
experiment table (`experiment_table`, one row per trial, in plan order):
    experiment, trial, content, style, run_id, label, <one column per varied key>, <the rest of
    the runs columns>; kind "tune" adds `selected` (bool) and `note`.
  A varied key that is a run parameter takes the run's own (normalised) value.
Table 5 (`table5`): see its docstring.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import NSTError
from .files import atomic_path
from .params import FIELD_NAMES, RunParams
from .presets import PRESETS

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
RANDOM_NOTE = "RANDOM WEIGHTS - not real style transfer"


class AggregateError(NSTError, ValueError):
    """A manifest or a set of runs that cannot be tabulated; the message says which and why."""


class MissingRunError(NSTError, FileNotFoundError):
    """A run the manifest names has no run.json."""


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
            _check_select(name, exp.get("select"), source)
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


def _check_select(name: str, select: Any, source: str) -> None:
    if not isinstance(select, dict):
        raise AggregateError(f"{source}: tune experiment {name!r} needs 'select' "
                             "{metric, mode, override}")
    if select.get("mode", "min") not in ("min", "max"):
        raise AggregateError(f"{source}: experiment {name!r}: select.mode must be min | max, "
                             f"not {select.get('mode')!r}")
    select.setdefault("mode", "min")
    select.setdefault("metric", "eval_total")
    select["override"] = select.get("override") or {}


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
    return Path(runs_dir) / str(content) / str(style) / str(run_id)


def read_run(runs_dir, content: str, style: str, run_id: str) -> dict:
    path = run_dir(runs_dir, content, style, run_id) / "run.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MissingRunError(f"run record {str(path)!r} is missing (run {run_id} of "
                              f"{content} x {style} has not finished)") from None
    except json.JSONDecodeError as err:
        raise AggregateError(f"run record {str(path)!r} is not valid JSON: {err}") from None


def _cell(value: Any) -> Any:
    """A parameter value as one CSV cell: lists joined with ',', None empty."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


def run_row(record: dict, content: str, style: str) -> dict:
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
        "weights": weights.get("source", params.get("weights")),
        "random_weights": bool(record.get("random_weights", weights.get("random", False))),
    })
    return row


# --- tables --------------------------------------------------------------------------------
def runs_table(manifest: dict, runs_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per distinct (content, style, run_id) of the manifest, in first-seen order."""
    seen: dict[tuple[str, str, str], None] = {}
    for trial in manifest["trials"]:
        seen.setdefault((str(trial["content"]), str(trial["style"]), str(trial["run_id"])), None)
    rows = []
    for content, style, run_id in seen:
        record = read_run(runs_dir, content, style, run_id)
        if str(record.get("run_id")) != run_id:
            raise AggregateError(
                f"{run_dir(runs_dir, content, style, run_id) / 'run.json'} holds run "
                f"{record.get('run_id')!r}, not {run_id!r}")
        rows.append(run_row(record, content, style))
    if not rows:
        return pd.DataFrame(columns=KEY_COLUMNS + [PARAM_PREFIX + n if n in RUN_COLUMNS else n
                                                   for n in FIELD_NAMES] + RUN_COLUMNS)
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


def _select(table: pd.DataFrame, manifest: dict, name: str, runs: pd.DataFrame) -> pd.DataFrame:
    select = manifest["experiments"][name]["select"]
    metric, mode, overrides = select["metric"], select["mode"], dict(select["override"])
    if metric not in table.columns:
        raise AggregateError(f"experiment {name!r}: select.metric {metric!r} is not a column "
                             f"(e.g. {', '.join(METRIC_COLUMNS)})")
    pairs = pairs_in_order(table)
    unknown = sorted(set(overrides) - {pair_key(c, s) for c, s in pairs})
    if unknown:
        raise AggregateError(
            f"experiment {name!r}: select.override names pair {unknown[0]!r}, which the "
            f"experiment does not have (pairs: {', '.join(pair_key(c, s) for c, s in pairs)})")
    trials = experiment_trials(manifest, name)
    selected = [False] * len(table)
    notes = [""] * len(table)
    for content, style in pairs:
        rows = [i for i in range(len(table))
                if table.at[i, "content"] == content and table.at[i, "style"] == style]
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
        values = {i: _number(table.at[i, metric]) for i in rows if table.at[i, "status"] == "ok"}
        values = {i: v for i, v in values.items() if v is not None}
        if not values:
            reason = ("all runs diverged" if all(table.at[i, "status"] != "ok" for i in rows)
                      else f"no ok run has a finite {metric}")
            for i in rows:
                notes[i] = f"{reason}: nothing selected"
            continue
        sign = 1.0 if mode == "min" else -1.0
        best = min(values, key=lambda i: (sign * values[i], i))  # ties: the first in plan order
        selected[best] = True
        notes[best] = f"selected: {mode} {metric}"
    table["selected"] = selected
    table["note"] = notes
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
    fixed reference evaluation of both images, which is. A pair with no selected revised run
    has empty revised columns and a note.
    """
    array = manifest.get("results_array")
    if not array:
        raise AggregateError("the manifest has no results_array (baseline and revised "
                             "experiments): there is no Table 5 to make")
    base_name, rev_name = array["baseline"], array["revised"]
    base = experiment_table(manifest, runs, base_name)
    rev = experiment_table(manifest, runs, rev_name)
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
    return pd.DataFrame(rows, columns=TABLE5_COLUMNS)


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
