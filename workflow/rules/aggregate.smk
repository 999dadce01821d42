# Tables (pandas), figures (matplotlib, Pillow) and the paper's Results Array / Table 5, made
# from the runs' run.json and score files (one per evaluator of `evaluation:`, rule score).
# Every output is in the Snakemake report (snakemake --report results/report.html); each
# caption names the evaluators (get_evaluation_caption) and, for tuned experiments, the selection rule.


localrules:
    plan,
    runs_table,
    experiment_table,
    experiment_figures,
    selection_figure,
    results_array,
    experiment_summary,
    interactions,
    findings,


# This call's plan, copied under the lock from the file onstart wrote (named by its content, so
# a changed plan is a changed param: Snakemake reruns the job, and everything made from it).
rule plan:
    output:
        layout.MANIFEST,
    log:
        "logs/aggregate/plan.log",
    conda:
        CONDA_ENV
    params:
        plan=get_plan_file,
    shell:
        "cp {params.plan:q} {output:q}.tmp > {log:q} 2>&1 && mv {output:q}.tmp {output:q}"


rule runs_table:
    input:
        manifest=layout.MANIFEST,
        records=all_run_records,
    output:
        report(layout.RUNS_TABLE, caption="../report/runs_table.rst", category="Tables"),
    log:
        "logs/aggregate/runs_table.log",
    conda:
        CONDA_ENV
    params:
        results=results_folder,
        evaluation=get_evaluation_caption,
    shell:
        "nst aggregate runs --manifest {input.manifest:q} --results {params.results:q} -o {output:q} > {log:q} 2>&1"


rule experiment_table:
    input:
        manifest=layout.MANIFEST,
        records=experiment_records,
        judgements=selection_judgements,
        judged_images=selection_images,
    output:
        report(
            layout.EXPERIMENT_TABLE_PATTERN,
            caption="../report/experiment_table.rst",
            category="Tables",
            labels={"experiment": "{experiment}"},
        ),
    log:
        "logs/aggregate/{experiment}.table.log",
    conda:
        CONDA_ENV
    params:
        caption=get_experiment_caption,
        results=results_folder,
        evaluation=get_evaluation_caption,
        people=judgements_flag,
    shell:
        "nst aggregate experiment {wildcards.experiment:q} --manifest {input.manifest:q}"
        " --results {params.results:q} {params.people} -o {output:q} > {log:q} 2>&1"


rule experiment_figures:
    input:
        manifest=layout.MANIFEST,
        table=layout.EXPERIMENT_TABLE_PATTERN,
        images=experiment_images,
    output:
        grid=report(
            layout.figure_pattern("grid"),
            caption="../report/experiment_grid.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "images"},
        ),
        chart=report(
            layout.figure_pattern("chart"),
            caption="../report/experiment_chart.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "chart"},
        ),
    log:
        "logs/aggregate/{experiment}.figures.log",
    conda:
        CONDA_ENV
    params:
        caption=get_experiment_caption,
        results=results_folder,
        evaluation=get_evaluation_caption,
    shell:
        "nst figures experiment {wildcards.experiment:q} --manifest {input.manifest:q}"
        " --results {params.results:q} --grid {output.grid:q} --chart {output.chart:q} > {log:q} 2>&1"


# Tuned experiments: each pair's candidates by their two scores, the selected one marked.
rule selection_figure:
    input:
        manifest=layout.MANIFEST,
        table=layout.EXPERIMENT_TABLE_PATTERN,
    output:
        report(
            layout.figure_pattern("selection"),
            caption="../report/selection.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "selection"},
        ),
    log:
        "logs/aggregate/{experiment}.selection.log",
    wildcard_constraints:
        experiment=alternatives(tuned_experiments()),
    conda:
        CONDA_ENV
    params:
        caption=get_selection_caption,
        results=results_folder,
        evaluation=get_evaluation_caption,
    shell:
        "nst figures selection {wildcards.experiment:q} --manifest {input.manifest:q}"
        " --results {params.results:q} --figure {output:q} > {log:q} 2>&1"


# Table 5 from the runs (nst aggregate table5), then Fig. 19 drawn from it and the two experiments' tables.
rule results_array:
    input:
        manifest=layout.MANIFEST,
        tables=results_array_inputs,
        records=results_array_records,
        images=results_array_images,
        judgements=table5_judgements,
    output:
        figure=report(
            layout.RESULTS_ARRAY,
            caption="../report/results_array.rst",
            category="Results Array",
        ),
        table=report(layout.TABLE5, caption="../report/table5.rst", category="Results Array"),
    log:
        "logs/aggregate/results_array.log",
    conda:
        CONDA_ENV
    params:
        results=results_folder,
        evaluation=get_evaluation_caption,
        people=judgements_flag,
    shell:
        "nst aggregate table5 --manifest {input.manifest:q} --results {params.results:q} {params.people}"
        " -o {output.table:q}"
        " > {log:q} 2>&1 && nst figures results-array --manifest {input.manifest:q} --results {params.results:q}"
        " --figure {output.figure:q} >> {log:q} 2>&1"


# Per value of an experiment: mean over pairs with its 95 % interval and the paired difference
# against the reference value (a one-pair experiment gets a note instead of intervals).
rule experiment_summary:
    input:
        manifest=layout.MANIFEST,
        table=layout.EXPERIMENT_TABLE_PATTERN,
    output:
        report(
            layout.SUMMARY_PATTERN,
            caption="../report/summary.rst",
            category="Summaries",
            labels={"experiment": "{experiment}", "table": "summary"},
        ),
    log:
        "logs/aggregate/{experiment}.summary.log",
    conda:
        CONDA_ENV
    params:
        caption=get_experiment_caption,
        results=results_folder,
        evaluation=get_evaluation_caption,
    shell:
        "nst aggregate summary {wildcards.experiment:q} --manifest {input.manifest:q}"
        " --results {params.results:q} -o {output:q} > {log:q} 2>&1"


# Grid experiments: main effects and two-way interactions, and the interaction plot.
rule interactions:
    input:
        manifest=layout.MANIFEST,
        table=layout.EXPERIMENT_TABLE_PATTERN,
    output:
        table=report(
            layout.INTERACTIONS_PATTERN,
            caption="../report/interactions.rst",
            category="Summaries",
            labels={"experiment": "{experiment}", "table": "interactions"},
        ),
        figure=report(
            layout.figure_pattern("interaction"),
            caption="../report/interaction_plot.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "interaction"},
        ),
    log:
        "logs/aggregate/{experiment}.interactions.log",
    wildcard_constraints:
        experiment=alternatives(grid_experiments()),
    conda:
        CONDA_ENV
    params:
        caption=get_experiment_caption,
        results=results_folder,
        evaluation=get_evaluation_caption,
    shell:
        "nst aggregate interactions {wildcards.experiment:q} --manifest {input.manifest:q}"
        " --results {params.results:q} -o {output.table:q} > {log:q} 2>&1 && nst figures interaction"
        " {wildcards.experiment:q} --manifest {input.manifest:q} --results {params.results:q}"
        " --figure {output.figure:q} >> {log:q} 2>&1"


# The claims file's claims (config key claims), each checked against its experiment's table.
rule findings:
    input:
        manifest=layout.MANIFEST,
        claims=CLAIMS_FILE or [],
        tables=claimed_tables,
        agreement=claims_agreement,
    output:
        report(layout.FINDINGS, caption="../report/findings.rst", category="Findings"),
    log:
        "logs/aggregate/findings.log",
    conda:
        CONDA_ENV
    params:
        results=results_folder,
        evaluation=get_evaluation_caption,
        agreement=agreement_flag,
    shell:
        "nst aggregate findings --manifest {input.manifest:q} --results {params.results:q}"
        " --claims {input.claims:q} {params.agreement} -o {output:q} > {log:q} 2>&1"
