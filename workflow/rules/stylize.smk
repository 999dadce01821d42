# One style-transfer run per target: results/runs/<content>/<style>/<run_id>/.


rule stylize:
    input:
        content=content_image,
        style=style_image,
        weights=weights_record(),
    output:
        image=f"{RUN_DIR}/image.png",
        history=f"{RUN_DIR}/history.csv",
        record=f"{RUN_DIR}/run.json",
    log:
        "logs/runs/{content}/{style}/{run_id}.log",
    benchmark:
        "logs/benchmarks/{content}/{style}/{run_id}.tsv"
    params:
        run=run_params_json,
        outdir=lambda wildcards, output: os.path.dirname(output.record),
        device=device_flags(),
    threads: execution("threads")
    resources:
        gpu=gpu_resource,
    conda:
        CONDA_ENV
    shell:
        "nst run {input.content:q} {input.style:q} -o {params.outdir:q} --quiet"
        " --params-json {params.run:q} --expect-run-id {wildcards.run_id}"
        " --threads {threads} {params.device} > {log:q} 2>&1"
