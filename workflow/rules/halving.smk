# Successive halving (schedule: halving on a tune experiment; nst/study/tables/halving.py). Every
# candidate runs to the first rung; a checkpoint per experiment and rung keeps the best
# ceil(n / eta) per pair by the selection rule (nst halving, from the rung runs' scores) and
# the next rung's runs continue those from their state (nst run --resume-from). Which runs an
# experiment ends with is known only once its decisions are made: the input functions
# (halving_inputs.smk) read them through checkpoints.halving_rung.get().
include: "halving_inputs.smk"  # its input functions (lint: rules and functions apart)


localrules:
    halving_rung,


checkpoint halving_rung:
    input:
        manifest=layout.MANIFEST,
        runs=rung_inputs,
    output:
        layout.RUNG_DECISION_PATTERN,
    log:
        "logs/aggregate/{experiment}.rung{rung}.log",
    wildcard_constraints:
        rung="[0-9]+",
    conda:
        CONDA_ENV
    params:
        results=results_folder,
        # a decision follows the rule and eta: changing either decides again (params trigger)
        rule=get_halving_rule,
    shell:
        "nst halving {wildcards.experiment:q} --rung {wildcards.rung} --manifest {input.manifest:q}"
        " --results {params.results:q} -o {output:q} > {log:q} 2>&1"
