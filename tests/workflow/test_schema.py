"""The config schema and RunParams describe the same run: workflow/schemas/config.schema.yaml's
`$defs.run_params` is exactly RunParams' identity fields, and its `execution:` covers RunParams'
execution fields, every property documented; an experiment's `select` offers exactly the selection
rule's metrics (nst/contracts/selection.py). A field added to one and not the other fails here."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from nst.contracts import params as run_params
from nst.contracts.params import CONFIG_EXECUTION_FIELDS, FIELD_NAMES as FIELDS_IN_ORDER, PER_RUN_EXECUTION_FIELDS, RunParams
from nst.contracts.selection import HUMAN, SELECT_METRICS
from nst.study.plan.build import EXECUTION_KEYS

from kit import ROOT

SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
RUN_PARAMS = SCHEMA["$defs"]["run_params"]["properties"]
EXECUTION = SCHEMA["properties"]["execution"]["properties"]
SELECT = SCHEMA["$defs"]["experiment"]["properties"]["select"]["properties"]

IDENTITY_FIELDS = {f.name for f in dataclasses.fields(RunParams) if f.metadata.get("identity", True)}
EXECUTION_FIELDS = {f.name for f in dataclasses.fields(RunParams) if not f.metadata.get("identity", True)}

# RunParams execution fields that are not `execution:` settings: the workflow sets snapshots per
# run, from the iterations its experiments ask of a shared trajectory (nst/study/plan/trajectory.py).
NOT_IN_EXECUTION = set(PER_RUN_EXECUTION_FIELDS)
# `execution:` settings that are the workflow's, not one run's: the `gpu` resource a job
# declares, runs per `nst runner` process, and whether runs share one trajectory.
WORKFLOW_ONLY = {"gpus_per_job", "batch_size", "share_trajectories", "forkserver"}

# JSON Schema keywords a property may use: anything else is a typo (or YAML reading a comma in
# an unquoted description as a second key)
KEYWORDS = {"type", "enum", "minimum", "maximum", "exclusiveMinimum", "pattern", "default", "description",
            "oneOf", "$ref"}


def test_run_params_are_the_identity_fields():
    assert set(RUN_PARAMS) == IDENTITY_FIELDS


def test_the_plan_takes_its_execution_keys_from_the_run_params_metadata():
    """One list: the planner's EXECUTION_KEYS are RunParams' execution fields (less the per-run
    ones), in field order, and the schema's execution section is them plus the workflow's own."""
    assert EXECUTION_KEYS == CONFIG_EXECUTION_FIELDS
    assert set(EXECUTION) - WORKFLOW_ONLY == set(CONFIG_EXECUTION_FIELDS)
    assert list(CONFIG_EXECUTION_FIELDS) == [f for f in FIELDS_IN_ORDER if f in CONFIG_EXECUTION_FIELDS]


def test_execution_covers_the_execution_fields():
    assert set(EXECUTION) == (EXECUTION_FIELDS - NOT_IN_EXECUTION) | WORKFLOW_ONLY
    assert NOT_IN_EXECUTION <= EXECUTION_FIELDS and not WORKFLOW_ONLY & EXECUTION_FIELDS


@pytest.mark.parametrize("where, name", [*(("run_params", n) for n in RUN_PARAMS),
                                         *(("execution", n) for n in EXECUTION)])
def test_every_property_is_documented(where, name):
    spec = (RUN_PARAMS if where == "run_params" else EXECUTION)[name]
    assert isinstance(spec.get("description"), str) and spec["description"].strip(), f"{where}.{name}"
    assert set(spec) <= KEYWORDS, f"{where}.{name}: {sorted(set(spec) - KEYWORDS)}"


CHOICES = {"loss": run_params.LOSSES, "optimizer": run_params.OPTIMIZERS, "pooling": run_params.POOLINGS,
           "gram_norm": run_params.GRAM_NORMS, "style_loss": run_params.STYLE_LOSSES, "color": run_params.COLORS,
           "resize": run_params.RESIZES, "precision": run_params.PRECISIONS, "lbfgs_bounds": run_params.LBFGS_BOUNDS}


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_the_schema_offers_the_choices_runparams_takes(name):
    """Every choice RunParams knows is in the schema's enum, and every enum value (spellings such
    as L-BFGS included) is one RunParams accepts."""
    enum = RUN_PARAMS[name]["enum"]
    assert set(CHOICES[name]) <= set(enum)
    for value in enum:
        assert getattr(RunParams.from_dict({name: value}), name) in CHOICES[name]


def test_the_schema_offers_the_select_metrics_the_planner_takes():
    """select.metric's enum is SELECT_METRICS and select.fallback's the same less human (people's
    choice falls back to an automatic rule), in the same order: a metric added to the planner and
    not to the schema (or the other way round) fails here."""
    assert SELECT["metric"]["enum"] == list(SELECT_METRICS)
    assert SELECT["fallback"]["enum"] == [m for m in SELECT_METRICS if m != HUMAN]
    assert SELECT["metric"]["default"] == SELECT_METRICS[0] == "pareto"
