"""Expanding a workflow config into runs and experiment trials (pure Python, no snakemake).

An experiment is a base preset plus at most one of:
  vary:    {key: [values]}                 one key, one value at a time (the paper's design)
  subsets: {key: [layers] | [[layers], ..]} every non-empty subset of each layer list
  grid:    {key: [values], key2: [...]}    full factorial, for interaction studies
  tune:    {key: [values], ...}            a factorial grid per pair, then `select` keeps one
  reconstruct: {content_layers: [layers], style_layers: [layers]}
                                           Gatys et al. 2016, Fig. 1: what one layer keeps of
                                           the content, what growing sets keep of the style
and, with none of them, the base settings over every pair (the content x style matrix).
Settings are layered: preset < config `params` < experiment `set` < the trial's own values.
Two trials asking for the same settings on the same pair share one run (one run_id).
"""
from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...contracts.evaluators import EvaluationError, resolve_evaluation
from ...contracts.families import missing_network
from ...contracts.manifest import DESIGNS, PAIRS, Experiment, ResultsArray, label_of, pair_key
from ...contracts.params import CONFIG_EXECUTION_FIELDS, FIELD_NAMES, PER_RUN_EXECUTION_FIELDS, RunParams
from ...contracts.plan import Plan
from ...contracts.presets import PRESETS
from ...contracts.selection import check_select
from ...errors import PlanError, WeightsError
from ...contracts.state_dict_file import check_state_dict_file
from .blends import blend_settings, heaviest_member, resolve_blends
from .catalog import find_images
from .rungs import HALVING_KEYS, add_ladders, check_schedule
from .job_inputs import check_job_inputs
from .names import check_experiment_name
from .reconstruct import RECONSTRUCT, fit_layer_weights, reconstruction_label, reconstruction_trials

EXPERIMENT_KEYS = {"base", "title", "paper", "set", "pairs", "select", "skip_missing_weights", *DESIGNS, *HALVING_KEYS}
EXECUTION_KEYS = CONFIG_EXECUTION_FIELDS  # from RunParams' field metadata, the one list


# --- config pieces -------------------------------------------------------------------------
def _key(path: str, message: str) -> PlanError:
    return PlanError(f"config key {path!r}: {message}")


def layer_subsets(layers: list[str]) -> list[list[str]]:
    """Every non-empty subset, smallest first (31 for five layers)."""
    return [list(c) for r in range(1, len(layers) + 1) for c in itertools.combinations(layers, r)]


def resolve_pairs(spec: Any, content: dict, style: dict, where: str) -> list[tuple[str, str]]:
    if spec in (None, "all"):
        return [(c, s) for c in content for s in style]
    if not isinstance(spec, list) or not spec:
        raise _key(where, "must be 'all' or a non-empty list of {content: STEM, style: STEM}")
    pairs = []
    for i, item in enumerate(spec):
        if not isinstance(item, dict) or set(item) != {"content", "style"}:
            raise _key(f"{where}[{i}]", "must be a mapping with exactly the keys content and style")
        c, s = str(item["content"]), str(item["style"])
        if c not in content:
            raise _key(f"{where}[{i}].content", f"no content image named {c!r}; found: {', '.join(content)}")
        if s not in style:
            raise _key(f"{where}[{i}].style", f"no style image named {s!r}; found: {', '.join(style)}")
        if (c, s) not in pairs:
            pairs.append((c, s))
    return pairs


def _check_param_keys(mapping: dict, where: str) -> None:
    for key in mapping:
        if key not in FIELD_NAMES or key in EXECUTION_KEYS + PER_RUN_EXECUTION_FIELDS:
            allowed = [f for f in FIELD_NAMES if f not in EXECUTION_KEYS + PER_RUN_EXECUTION_FIELDS]
            raise _key(f"{where}.{key}", f"unknown parameter; allowed: {', '.join(allowed)}")


def _value_lists(spec: Any, where: str, max_keys: int | None = None) -> dict[str, list]:
    if not isinstance(spec, dict) or not spec:
        raise _key(where, "must map parameter names to lists of values")
    if max_keys is not None and len(spec) > max_keys:
        raise _key(where, f"varies {len(spec)} keys; 'vary' takes one (use 'grid' for several)")
    _check_param_keys(spec, where)
    for key, values in spec.items():
        if not isinstance(values, list) or not values:
            raise _key(f"{where}.{key}", "must be a non-empty list of values")
    return spec


def experiment_trials(name: str, spec: dict) -> tuple[str, list[str], list[dict]]:
    """(kind, varied keys, list of value dicts) for one experiment."""
    where = f"experiments.{name}"
    kinds = [k for k in DESIGNS if k in spec]
    if len(kinds) > 1:
        raise _key(where, f"has {' and '.join(kinds)}; an experiment takes at most one of {', '.join(DESIGNS)}")
    if not kinds:
        return PAIRS, [], [{}]
    kind = kinds[0]
    if kind == "subsets":
        spec_map = spec["subsets"]
        if not isinstance(spec_map, dict) or not spec_map:
            raise _key(f"{where}.subsets", "must map content_layers/style_layers to a list of layers (or lists)")
        trials = []
        for key, lists in spec_map.items():
            if key not in ("content_layers", "style_layers"):
                raise _key(f"{where}.subsets.{key}", "only content_layers and style_layers take subsets")
            lists = lists if lists and isinstance(lists[0], list) else [lists]
            for layers in lists:
                trials += [{key: subset} for subset in layer_subsets(layers)]
        return kind, list(spec_map), trials
    if kind == RECONSTRUCT:
        return kind, list(spec[kind]), reconstruction_trials(spec[kind], f"{where}.{kind}")
    values = _value_lists(spec[kind], f"{where}.{kind}", max_keys=1 if kind == "vary" else None)
    keys = list(values)
    combos = itertools.product(*(values[k] for k in keys))
    return kind, keys, [dict(zip(keys, combo)) for combo in combos]


def layered_params(base: str, *layers: dict) -> RunParams:
    """Preset, then each layer on top. As with the CLI's flags, a layer that changes the
    optimizer without giving lr brings that optimizer's default learning rate."""
    params = RunParams.from_dict(PRESETS[base])
    for layer in layers:
        if layer:
            params = RunParams.from_dict(layer, base=params)
    return params


def execution_settings(config: dict) -> dict:
    """The config's execution keys that are RunParams fields (how a run is computed)."""
    execution = dict(config.get("execution") or {})
    out = {k: execution[k] for k in EXECUTION_KEYS if execution.get(k) is not None}
    return out


# --- the plan ------------------------------------------------------------------------------
def build_plan(config: dict, root: str | Path = ".", verify_images: bool = True) -> Plan:
    """Expand `config` (already schema-validated) into runs and trials; PlanError on bad input.
    Reads the config and the images only: which runs share a trajectory (and so read finished
    runs) is a later step, nst.study.plan.trajectory.share_trajectories."""
    root = Path(root)
    images = config.get("images") or {}
    notes: list[str] = []  # what the plan leaves out, said once per call
    content = find_images(root / images.get("content", "images/content"), "content", verify_images, notes)
    style = find_images(root / images.get("style", "images/style"), "style", verify_images, notes)
    blends = resolve_blends(config.get("blends"), style)
    style_images = {**style, **{name: style[heaviest_member(m)] for name, m in blends.items()}}
    global_params = dict(config.get("params") or {})
    _check_param_keys(global_params, "params")
    execution = execution_settings(config)
    experiments = config.get("experiments") or {}
    if not experiments:
        raise _key("experiments", "no experiments defined")
    default_pairs = resolve_pairs(config.get("pairs", "all"), content, style_images, "pairs")

    plan = Plan(content, style_images, experiments={}, blends=blends, notes=notes)
    checked: set[str] = set()  # weights files looked into (check_weights_files)
    try:
        plan.evaluation = resolve_evaluation(config.get("evaluation"))
    except EvaluationError as err:
        raise PlanError(str(err)) from None
    for name, spec in experiments.items():
        where = f"experiments.{check_experiment_name(name, f'experiments.{name}')}"
        if not isinstance(spec, dict):
            raise _key(where, "must be a mapping")
        unknown = sorted(set(spec) - EXPERIMENT_KEYS)
        if unknown:
            raise _key(f"{where}.{unknown[0]}", f"unknown experiment key; allowed: {', '.join(sorted(EXPERIMENT_KEYS))}")
        base = spec.get("base", "baseline")
        if base not in PRESETS:
            raise _key(f"{where}.base", f"unknown preset {base!r}; allowed: {', '.join(PRESETS)}")
        overrides = dict(spec.get("set") or {})
        _check_param_keys(overrides, f"{where}.set")
        kind, keys, value_sets = experiment_trials(name, spec)
        pairs = resolve_pairs(spec["pairs"], content, style_images, f"{where}.pairs") if "pairs" in spec else default_pairs
        select = check_select(name, spec, kind, keys, [pair_key(*pair) for pair in pairs], plan.evaluation)
        schedule = check_schedule(name, spec, kind, keys)
        if kind == RECONSTRUCT:
            try:
                value_sets = fit_layer_weights(value_sets, layered_params(base, global_params, overrides))
            except ValueError as err:
                raise PlanError(f"experiment {name!r}: {err}") from None
        plan.experiments[name] = Experiment(kind=kind, keys=tuple(keys), base=base, title=spec.get("title", name),
                                            paper=spec.get("paper", ""), select=select)
        for values in value_sets:
            try:
                params = layered_params(base, global_params, overrides, {**values, **execution})
                params.run_id  # a weights file counts by its content: it must exist now
                check_weights_files(params, checked)  # and hold tensors only: found now, not in every job
            except (ValueError, WeightsError) as err:
                raise PlanError(f"experiment {name!r} ({label_of(values)}): {err}") from None
            missing = missing_network(params.weights, params.family_weights_file)
            if missing and spec.get("skip_missing_weights"):
                plan.notes.append(f"experiment {name!r}: skipping weights={params.weights}: {missing}")
                continue
            label = reconstruction_label(values) if kind == RECONSTRUCT else None
            for c, s in pairs:
                on_style = params.replace(**blend_settings(blends[s])) if s in blends else params
                plan.add(name, c, s, on_style, {k: _plain(v) for k, v in values.items()}, label)
        if not plan.trials_of(name):  # every trial skipped for a missing network
            del plan.experiments[name]
            plan.notes.append(f"experiment {name!r} left out: none of its networks is on this machine")
        elif schedule:
            plan.experiments[name] = replace(plan.experiments[name], halving=add_ladders(plan, name, where, schedule))
    plan.results_array = _results_array(config.get("results_array"), plan)
    if verify_images:
        check_job_inputs(plan, root)
    return plan


def check_weights_files(params: RunParams, checked: set[str]) -> None:
    """WeightsError for a weights file of the run (weights: PATH, or a Caffe file) that holds
    pickled objects or code (nst/contracts/state_dict_file.py); each file looked into once."""
    files = [params.weights] if params.uses_weights_file else []
    files += [params.caffe_weights_file] if params.weights == "caffe" and params.caffe_weights_file else []
    for path in files:
        if path not in checked:
            check_state_dict_file(path)
            checked.add(path)


def _results_array(spec: dict | None, plan: Plan) -> ResultsArray | None:
    if not spec:
        return None
    for role, kind in (("baseline", None), ("revised", "tune")):
        name = spec.get(role)
        if name not in plan.experiments:
            raise _key(f"results_array.{role}", f"{name!r} is not an experiment; found: {', '.join(plan.experiments)}")
        if kind and plan.experiments[name].kind != kind:
            raise _key(f"results_array.{role}", f"experiment {name!r} must use 'tune' (one run chosen per pair)")
    return ResultsArray(baseline=spec["baseline"], revised=spec["revised"])


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
