"""The environment variables through which one `snakemake` call hands its jobs the files it
planned (nst/study/plan/invocation.py names and writes them; the jobs' processes read them).
Variables rather than rule params, so that changing how runs are computed, or which evaluators
a run's process scores with, never reruns a finished run."""

EXECUTION_VARIABLE = "NST_EXECUTION"  # how runs are computed: the stylize rule's `nst run --execution "$NST_EXECUTION"`
PRESCORE_VARIABLE = "NST_PRESCORE"  # the evaluators a run's process scores with (nst/run/prescore.py)
