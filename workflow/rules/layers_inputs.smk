# Input functions and targets of the per-layer figures (workflow/rules/layers.smk).


def reconstruct_experiments():
    return [name for name, experiment in PLAN.experiments.items() if experiment.kind == "reconstruct"]


def experiment_run_files(*names):
    """An input function: these files of every run of the experiment."""

    def files(wildcards):
        experiment = wildcards.experiment
        runs = [run_file(PLAN.runs[k], file) for k in experiment_run_keys(experiment) for file in names]
        return runs + (decision_files(experiment) if halving_info(experiment) else [])

    return files


def layer_targets():
    return [layout.layer_chart(name) for name in PLAN.experiments] + [
        layout.reconstruction_figure(name) for name in reconstruct_experiments()
    ]
