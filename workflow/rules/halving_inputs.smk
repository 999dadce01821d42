# Input functions of successive halving (workflow/rules/halving.smk); common.smk's
# experiment functions read the runs an experiment ends with through experiment_run_keys.
from nst.study.tables.halving import alive_at, reached_rung, run_at


def halving_info(name):
    return PLAN.experiments[name].halving


def halving_decisions(name, count):
    """The decisions of rungs 0..count-1 (Snakemake re-plans once each is made)."""
    paths = [checkpoints.halving_rung.get(experiment=name, rung=str(k)).output[0] for k in range(count)]
    return [json.loads(open(path).read()) for path in paths]


def decision_files(name, count=None):
    info = halving_info(name)
    count = len(info["rungs"]) - 1 if count is None else count
    return [layout.rung_decision(name, k) for k in range(count)]


def experiment_run_keys(name):
    """The runs an experiment's table reads: each trial's own, or for halving the run each
    candidate ended with (its rung's run when it stopped)."""
    trials = PLAN.trials_of(name)
    info = halving_info(name)
    if not info:
        return sorted({f"{t.content}/{t.style}/{t.run_id}" for t in trials})
    decisions = halving_decisions(name, len(info["rungs"]) - 1)
    return sorted({f"{t.content}/{t.style}/{run_at(info, t, reached_rung(t, decisions))}" for t in trials})


def halving_experiments():
    return [name for name in PLAN.experiments if halving_info(name)]


def rung_inputs(wildcards):
    """The run.json and score files of the candidates running at this rung, and the decisions
    before it."""
    name, rung = wildcards.experiment, int(wildcards.rung)
    info = halving_info(name)
    alive = alive_at(PLAN.trials_of(name), halving_decisions(name, rung), rung)
    keys = sorted({f"{t.content}/{t.style}/{run_at(info, t, rung)}" for t in alive})
    files = [f for k in keys for f in [run_file(PLAN.runs[k])] + score_files(PLAN.runs[k])]
    return files + decision_files(name, rung)
