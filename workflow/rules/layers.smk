# Per-layer figures (nst figures-layers): every experiment's per-layer loss trajectories, read
# from its runs' history.csv, and the layer reconstructions of each `reconstruct` experiment
# (Gatys et al. 2016, Fig. 1). Their targets join rule all through layer_targets().


include: "layers_inputs.smk"  # their input functions and targets (lint: rules and functions apart)


localrules:
    layer_chart,
    reconstruction_figure,


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
        caption=get_experiment_caption,
        results=results_folder,
    shell:
        "nst figures-layers layers {wildcards.experiment:q} --manifest {input.manifest:q}"
        " --results {params.results:q} -o {output:q} > {log:q} 2>&1"


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
        caption=get_experiment_caption,
        results=results_folder,
    shell:
        "nst figures-layers reconstruction {wildcards.experiment:q} --manifest {input.manifest:q}"
        " --results {params.results:q} -o {output:q} > {log:q} 2>&1"
