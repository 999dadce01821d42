"""Tables of a study: runs.csv, one CSV per experiment, and the paper's Table 5.

Inputs are the planner's manifest (nst/contracts/manifest.py: which trials make up which
experiment, which evaluators score the runs) and the finished runs under `results/runs/<content>/<style>/<run_id>/`: run.json
and, per evaluator, `scores/<evaluator hash>.json` (nst/run/score.py). Only pandas, numpy and the
standard library: no torch, no snakemake.

Column contract
---------------
runs table (`runs_table`, one row per distinct (content, style, run_id) of the manifest):
    content, style, run_id, <every RunParams field>, status, diverged_at, stalled_at (the
    iteration from which the loss stopped changing, nst/run/stall.py; empty if it did not, and
    for runs made before it was recorded), iterations_done,
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
    style and content scores; empty for runs that are not candidates): nst/study/tables/select.py.
  A varied key that is a run parameter takes the run's own (normalised) value.
Table 5 (`table5`): see its docstring.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ...contracts import layout
from ...contracts.evaluators import Evaluator
from ...contracts.manifest import Manifest, pair_key
from ...contracts.params import FIELD_NAMES
from ...contracts.presets import PRESETS
from ...contracts.run_folder import probe_record
from ...contracts.run_record import RunRecord
from ...errors import AggregateError, InputError, MissingRunError
from ...files import atomic_path
from .select import matches, pair_rows, pairs_in_order, select_runs

KEY_COLUMNS = ["content", "style", "run_id"]
METRIC_COLUMNS = [
    "final_content", "final_style", "final_total",
    "eval_content", "eval_style", "eval_total", "ssim_content", "color_distance_style",
]
RUN_COLUMNS = ["status", "diverged_at", "stalled_at", "iterations_done", *METRIC_COLUMNS,
               "seconds", "device", "weights", "random_weights"]
# parameters whose name is also a run column keep this prefix in the tables
PARAM_PREFIX = "param_"
STRING_COLUMNS = ("experiment", "content", "style", "run_id", "label")
RANDOM_NOTE = "RANDOM WEIGHTS - not real style transfer"


# --- one run -------------------------------------------------------------------------------
def run_dir(runs_dir: str | os.PathLike, content: str, style: str, run_id: str) -> Path:
    return Path(layout.run_folder(content, style, run_id, runs=runs_dir))


def read_run(runs_dir, content: str, style: str, run_id: str) -> RunRecord:
    """The run's record; MissingRunError if it has not finished, AggregateError naming the file
    if its run.json is not a run's record."""
    folder = run_dir(runs_dir, content, style, run_id)
    try:
        record = probe_record(folder)
    except InputError as err:
        raise AggregateError(str(err)) from None
    if record is None:
        raise MissingRunError(f"run record {str(folder / layout.RECORD)!r} is missing (run {run_id} of "
                              f"{content} x {style} has not finished)")
    return record


def read_history(path: str | Path) -> pd.DataFrame:
    """A run's history.csv; InputError naming the file if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"history {str(path)!r} is missing (was its run deleted? rerun snakemake)")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"history {str(path)!r} is not a readable CSV: {err}") from None


def score_path(runs_dir, content: str, style: str, run_id: str, evaluator: Evaluator) -> Path:
    return run_dir(runs_dir, content, style, run_id) / layout.score_name(evaluator.hash)


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
    cells.update({evaluator.layer_column("style", n): (s.get("style_layers") or {}).get(n)
                  for n in settings["style_layers"]})
    cells.update({evaluator.layer_column("content", n): (s.get("content_layers") or {}).get(n)
                  for n in settings["content_layers"]})
    cells[evaluator.column("evaluator")] = evaluator.describe()
    return cells


def _cell(value: Any) -> Any:
    """A parameter value as one CSV cell: lists joined with ',', None empty."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


def run_row(record: RunRecord, content: str, style: str,
            scores: list[tuple[Evaluator, dict]] = ()) -> dict:
    params = record.params
    names = list(FIELD_NAMES) + sorted(set(params) - set(FIELD_NAMES))
    row: dict[str, Any] = {"content": content, "style": style, "run_id": record.run_id}
    for name in names:
        column = PARAM_PREFIX + name if name in RUN_COLUMNS else name
        row[column] = _cell(params.get(name))
    final, evaluation = record.final, record.evaluation
    row.update({
        "status": record.status,
        "diverged_at": record.diverged_at,
        "stalled_at": record.stalled_at,
        "iterations_done": record.iterations_done,
        "final_content": final.get("content"),
        "final_style": final.get("style"),
        "final_total": final.get("total"),
        **{k: evaluation.get(k) for k in METRIC_COLUMNS[3:]},
        "seconds": record.timing.get("seconds"),
        "device": record.device,
        "weights": params.get("weights", record.weights.get("source")),  # what the config named: imagenet, caffe, a path
        "random_weights": record.random_weights,
    })
    for evaluator, data in scores:
        row.update(score_cells(evaluator, data))
    return row


# --- tables --------------------------------------------------------------------------------
def runs_table(manifest: Manifest, runs_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per distinct (content, style, run_id) of the manifest, in first-seen order.
    Raises MissingRunError for a run without its run.json or a score file, AggregateError for
    a record that is not the run's."""
    seen = dict.fromkeys((t.content, t.style, t.run_id) for t in manifest.trials)
    rows = []
    scorers = manifest.evaluation
    for content, style, run_id in seen:
        record = read_run(runs_dir, content, style, run_id)
        if record.run_id != run_id:
            raise AggregateError(
                f"{run_dir(runs_dir, content, style, run_id) / layout.RECORD} holds run "
                f"{record.run_id!r}, not {run_id!r}")
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


# results a claim (nst/study/tables/findings.py) may compare besides the evaluators' scores
RESULT_COLUMNS = [*METRIC_COLUMNS, "seconds", "iterations_done"]


def metric_columns(manifest: Manifest, name: str) -> list[str]:
    """The numeric result columns experiment `name`'s table will have, known before any run:
    every evaluator's scores (per layer too), run.json's metrics, seconds and iterations_done;
    a tuned experiment's selection_score. Text columns and the settings compared are not
    results. AggregateError for an unknown experiment."""
    scores = [c for ev in manifest.evaluation for c in ev.columns() if c != ev.column("evaluator")]
    tuned = ["selection_score"] if manifest.experiment(name).kind == "tune" else []
    return scores + RESULT_COLUMNS + tuned


def experiment_table(manifest: Manifest, runs: pd.DataFrame, name: str, people: dict | None = None) -> pd.DataFrame:
    """One row per trial of experiment `name`, in plan order (see the module docstring);
    `people`: a select.metric human experiment's judgements per pair (select.select_runs).
    Raises AggregateError for an unknown experiment or a trial whose run `runs` lacks."""
    exp = manifest.experiment(name)
    trials = manifest.trials_of(name)
    keys = list(exp.keys)
    index = _runs_index(runs)
    run_columns = [c for c in runs.columns if c not in KEY_COLUMNS]
    key_columns = [_param_column(k) for k in keys]
    rows = []
    for position, trial in enumerate(trials):
        key = (trial.content, trial.style, trial.run_id)
        if key not in index:
            raise AggregateError(f"experiment {name!r}: run {key[2]} of {key[0]} x {key[1]} "
                                 "is not in the runs table")
        run = index[key]
        row: dict[str, Any] = {"experiment": name, "trial": position, "content": key[0],
                               "style": key[1], "run_id": key[2], "label": trial.label}
        for k, column in zip(keys, key_columns):
            row[column] = run[column] if column in run else _cell(trial.values.get(k))
        row.update({c: run[c] for c in run_columns if c not in key_columns})
        rows.append(row)
    columns = (["experiment", "trial", "content", "style", "run_id", "label"] + key_columns
               + [c for c in run_columns if c not in key_columns])
    table = pd.DataFrame(rows, columns=columns)
    if exp.halving is not None:  # successive halving: where a candidate stopped (empty: it ran in full)
        table["stopped_at"] = pd.array([t.stopped_at for t in trials], dtype="Int64")
    if exp.kind == "tune":
        table = select_runs(table, manifest, name, people)
    return table


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


def baseline_trial_index(manifest: Manifest, table: pd.DataFrame, name: str,
                         content: str, style: str) -> int | None:
    """Row of `table` (experiment `name`) that is the pair's baseline: its only trial, else the
    one whose varied values equal the experiment's base preset, else the first; None when the
    pair has no row."""
    rows = list(pair_rows(table, content, style).index)
    if len(rows) <= 1:
        return rows[0] if rows else None
    base = PRESETS.get(manifest.experiment(name).base)
    trials = manifest.trials_of(name)
    return next((i for i in rows if is_base_values(trials[int(table.at[i, "trial"])].values, base)),
                rows[0])


def is_base_values(values: dict, base: dict | None) -> bool:
    """Whether a trial's varied `values` are all the base preset's own (`base` None: never)."""
    return bool(base and values) and all(k in base and matches({k: base[k]}, {k: v})
                                         for k, v in values.items())


def reference_values(manifest: Manifest, name: str) -> dict:
    """The varied values experiment `name` is compared against (nst/study/tables/summary.py): those of
    the first trial whose values are the base preset's, as baseline_trial_index picks per pair,
    else the first trial's; {} for an experiment without trials."""
    trials = manifest.trials_of(name)
    base = PRESETS.get(manifest.experiment(name).base)
    chosen = next((t for t in trials if is_base_values(t.values, base)), trials[0] if trials else None)
    return dict(chosen.values) if chosen else {}


def table5(manifest: Manifest, runs: pd.DataFrame, people: dict | None = None) -> pd.DataFrame:
    """The paper's Table 5, one row per pair of the revised (tune) experiment, in plan order.

    baseline_L_S / baseline_L_C: the baseline run's own final style / content loss;
    revised_L_S / revised_L_C: those of the selected revised run (its own definition: L1,
    ReLU layers, tuned weights), so the two are not comparable; the *_eval_* columns are the
    fixed reference evaluation of both images, which is. After TABLE5_COLUMNS, per evaluator N
    of the manifest: baseline_score_N_<w> and revised_score_N_<w> for its style, content, total
    and image metrics, and score_N_evaluator (its name and settings). A pair with no selected
    revised run has empty revised columns and a note. `people`: the revised experiment's
    judgements per pair, for select.metric human (select.select_runs). Raises AggregateError
    for a manifest without results_array and for a pair the baseline experiment lacks.
    """
    array = manifest.results_array
    if not array:
        raise AggregateError("the manifest has no results_array (baseline and revised "
                             "experiments): there is no Table 5 to make")
    base = experiment_table(manifest, runs, array.baseline)
    rev = experiment_table(manifest, runs, array.revised, people)
    rows = []
    for number, (content, style) in enumerate(pairs_in_order(rev), start=1):
        b = baseline_trial_index(manifest, base, array.baseline, content, style)
        if b is None:
            raise AggregateError(f"results_array: the baseline experiment {array.baseline!r} has no "
                                 f"trial for pair {pair_key(content, style)!r}")
        brow = base.iloc[b]
        rrow, note = _revised_run(rev, content, style)
        row = {"row": number, "content": content, "style": style,
               **_run_cells("baseline", brow, manifest.evaluation),
               **_run_cells("revised", rrow, manifest.evaluation),
               "random_weights": bool(brow["random_weights"])
                                 or (rrow is not None and bool(rrow["random_weights"])),
               "note": note}
        row.update({ev.column("evaluator"): ev.describe() for ev in manifest.evaluation})
        rows.append(row)
    extra = [c for ev in manifest.evaluation
             for c in [f"{role}_{col}" for col in ev.summary_columns() for role in ("baseline", "revised")]
             + [ev.column("evaluator")]]
    return pd.DataFrame(rows, columns=TABLE5_COLUMNS + list(dict.fromkeys(extra)))


# Table 5's cells of each of the two runs: <role>_<name> is the run's <runs-table column>
TABLE5_RUN_CELLS = {
    "L_S": "final_style", "L_C": "final_content", "eval_style": "eval_style",
    "eval_content": "eval_content", "eval_total": "eval_total", "ssim": "ssim_content",
    "color_distance": "color_distance_style", "status": "status", "run_id": "run_id", "label": "label",
}


def _run_cells(role: str, row: pd.Series | None, scorers: tuple[Evaluator, ...]) -> dict:
    """Table 5's cells of the baseline or revised run (`row` None: every cell empty)."""
    cells = {f"{role}_{name}": None if row is None else row[column]
             for name, column in TABLE5_RUN_CELLS.items()}
    cells.update({f"{role}_{column}": None if row is None else row.get(column)
                  for ev in scorers for column in ev.summary_columns()})
    return cells


def _revised_run(rev: pd.DataFrame, content: str, style: str) -> tuple[pd.Series | None, str]:
    """The pair's selected revised run and, when there is none, the note saying why."""
    rows = list(pair_rows(rev, content, style).index)
    chosen = [i for i in rows if bool(rev.at[i, "selected"])] if "selected" in rev.columns else rows[:1]
    if chosen:
        return rev.iloc[chosen[0]], ""
    return None, str(rev.at[rows[0], "note"]) if "note" in rev.columns else "no revised run"


# --- files ---------------------------------------------------------------------------------
def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write `df` without its index, under a temporary name renamed into place."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by write_csv, keeping image stems, run ids and labels as text.
    InputError, naming the file, if it is missing."""
    if not Path(path).is_file():
        raise InputError(f"table {str(path)!r} does not exist (its experiment's table job makes it)")
    head = pd.read_csv(path, nrows=0).columns
    dtype = {c: str for c in STRING_COLUMNS if c in head}
    dtype.update({c: str for c in head if c.endswith("_run_id") or c.endswith("_label")})
    table = pd.read_csv(path, dtype=dtype, keep_default_na=False,
                        na_values={c: [""] for c in head if c not in dtype})
    return table
