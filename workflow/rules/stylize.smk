# One style-transfer run per target: results/runs/<content>/<style>/<run_id>/. A run that
# differs from a longer one only in `iterations` is written from that run's snapshot
# (shared trajectory) instead of being optimised again; a halving candidate promoted to the
# next rung continues the run of the rung before (--resume-from, workflow/rules/halving.smk).


rule stylize:
    input:
        content=content_image,
        style=style_image,
        weights=run_weights,
        trajectory=trajectory_source,
    output:
        image=f"{layout.RUN_PATTERN}/{layout.IMAGE}",
        history=f"{layout.RUN_PATTERN}/{layout.HISTORY}",
        record=f"{layout.RUN_PATTERN}/{layout.RECORD}",
    log:
        "logs/runs/{content}/{style}/{run_id}.log",
    benchmark:
        "logs/benchmarks/{content}/{style}/{run_id}.tsv"
    conda:
        CONDA_ENV
    threads: run_threads()
    resources:
        gpu=gpu_resource,
        mem_mb=run_memory,
    params:
        run=run_params_json,
        outdir=get_run_folder,
        snapshots=snapshot_list,
        trajectory=trajectory_flag,
    shell:
        "nst run {input.content:q} {input.style:q} -o {params.outdir:q} --quiet"
        " --params-json {params.run:q} --expect-run-id {wildcards.run_id}"
        " --set snapshots={params.snapshots} {params.trajectory}"
        ' --threads {threads} --execution "$NST_EXECUTION" > {log:q} 2>&1'
