# Every run scored by every evaluator of `evaluation:` (nst/contracts/evaluators.py, nst/run/score.py), one job
# per run and evaluator, from the run's saved image.png: results/runs/<content>/<style>/<run_id>/
# scores/<evaluator hash>.json. A job needs only its run's files, so no optimisation ever waits
# for scoring, and a changed `evaluation:` re-scores every run without re-optimising any.


rule score:
    input:
        image=f"{layout.RUN_PATTERN}/{layout.IMAGE}",
        record=f"{layout.RUN_PATTERN}/{layout.RECORD}",
        content=content_image,
        style=style_image,
        weights=scoring_weights,
    output:
        layout.SCORE_PATTERN,
    log:
        "logs/scores/{content}/{style}/{run_id}.{evaluator}.log",
    benchmark:
        "logs/benchmarks/scores/{content}/{style}/{run_id}.{evaluator}.tsv"
    wildcard_constraints:
        evaluator="[0-9a-f]{12}",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=score_memory,
    params:
        evaluator=evaluator_settings,
        rundir=get_scored_run_folder,
        weights=get_weights_record_flag,
    shell:
        "nst score {params.rundir:q} --evaluator {params.evaluator:q} --expect-hash {wildcards.evaluator}"
        " --content {input.content:q} --style {input.style:q} {params.weights} --threads {threads}"
        " -o {output:q} > {log:q} 2>&1"
