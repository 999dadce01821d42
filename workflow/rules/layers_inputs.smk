# Input functions and targets of the per-layer figures (workflow/rules/layers.smk).


def reconstruct_experiments():
    return [name for name, info in PLAN.experiments.items() if info["kind"] == "reconstruct"]


def experiment_run_files(*names):
    """An input function: these files of every run of the experiment."""

    def files(wildcards):
        keys = {f"{t.content}/{t.style}/{t.run_id}" for t in PLAN.trials_of(wildcards.experiment)}
        return [run_file(PLAN.runs[k], name) for k in sorted(keys) for name in names]

    return files


def layer_targets():
    return [layout.layer_chart(name) for name in PLAN.experiments] + [
        layout.reconstruction_figure(name) for name in reconstruct_experiments()
    ]
