# Per-layer figures (nst figures-layers): every experiment's per-layer loss trajectories, read
# from its runs' history.csv, and the layer reconstructions of each `reconstruct` experiment
# (Gatys et al. 2016, Fig. 1). Their targets join rule all through layer_targets().


localrules:
    layer_chart,
    reconstruction_figure,


def reconstruct_experiments():
    return [name for name, info in PLAN.experiments.items() if info["kind"] == "reconstruct"]


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


rule layer_chart:
    input:
        manifest=layout.MANIFEST,
        runs=experiment_run_files(layout.RECORD, layout.HISTORY),
    output:
        report(
            layout.layer_chart("{experiment}"),
            caption="../report/layer_chart.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "layers"},
        ),
    log:
        "logs/aggregate/{experiment}.layers.log",
    conda:
        CONDA_ENV
    params:
        caption=lambda wildcards: experiment_caption(wildcards.experiment),
        results=results_folder,
    shell:
        "nst figures-layers layers {wildcards.experiment} --manifest {input.manifest:q}"
        " --results {params.results} -o {output:q} > {log:q} 2>&1"


rule reconstruction_figure:
    input:
        manifest=layout.MANIFEST,
        runs=experiment_run_files(layout.RECORD, layout.IMAGE),
    output:
        report(
            layout.reconstruction_figure("{experiment}"),
            caption="../report/reconstruction.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "reconstruction"},
        ),
    log:
        "logs/aggregate/{experiment}.reconstruction.log",
    wildcard_constraints:
        experiment=alternatives(reconstruct_experiments()),
    conda:
        CONDA_ENV
    params:
        caption=lambda wildcards: experiment_caption(wildcards.experiment),
        results=results_folder,
    shell:
        "nst figures-layers reconstruction {wildcards.experiment} --manifest {input.manifest:q}"
        " --results {params.results} -o {output:q} > {log:q} 2>&1"
