# People's judgements (`nst judge`, results/judgements.sqlite) as tables and charts: each
# experiment's values ranked by people (Bradley-Terry), which automatic score agrees with
# them, and how consistent they are. Their targets join rule all through human_targets().


include: "human_inputs.smk"  # their input functions and targets (lint: rules and functions apart)


localrules:
    human_rankings,
    human_agreement,


rule human_rankings:
    input:
        manifest=layout.MANIFEST,
        judgements=layout.JUDGEMENTS,
        images=judged_images,
    output:
        table=report(layout.HUMAN_RANKINGS, caption="../report/human_rankings.rst", category="People"),
        figure=report(layout.HUMAN_RANKINGS_FIGURE, caption="../report/human_rankings.rst", category="People"),
    log:
        "logs/aggregate/human_rankings.log",
    conda:
        CONDA_ENV
    params:
        results=results_folder,
    shell:
        "nst human rankings --manifest {input.manifest:q} --results {params.results:q}"
        " --judgements {input.judgements:q} -o {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


rule human_agreement:
    input:
        manifest=layout.MANIFEST,
        judgements=layout.JUDGEMENTS,
        runs=layout.RUNS_TABLE,
        images=judged_images,
    output:
        table=report(layout.HUMAN_AGREEMENT, caption="../report/human_agreement.rst", category="People"),
        figure=report(
            layout.HUMAN_AGREEMENT_FIGURE,
            caption="../report/human_agreement.rst",
            category="People",
        ),
        reliability=report(
            layout.HUMAN_RELIABILITY,
            caption="../report/human_reliability.rst",
            category="People",
        ),
    log:
        "logs/aggregate/human_agreement.log",
    conda:
        CONDA_ENV
    params:
        results=results_folder,
        evaluation=get_evaluation_caption,
    shell:
        "nst human agreement --manifest {input.manifest:q} --results {params.results:q}"
        " --judgements {input.judgements:q} -o {output.table:q} --reliability {output.reliability:q}"
        " --figure {output.figure:q} > {log:q} 2>&1"
