# Validation, the one call that plans (nst.study.plan.invocation: images, experiments, the
# steps that read finished runs; it writes nothing), named input and param functions, and
# target lists. Every path under results/ comes from nst/contracts/layout.py.
import json
import os
import re
import sys

import yaml
from jsonschema.exceptions import ValidationError
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from nst.errors import NSTError
from nst.execution.resources import SNAPSHOT_COPY_MB, run_memory_mb, score_memory_mb
from nst.execution.forkserver import start_forkserver, stop_forkserver
from nst.execution.runner import start_runner, stop_runner
from nst.run.device import cuda_expected
from nst.contracts import layout
from nst.study.plan.config_input import apply_overrides, check_config_files, coerce_overrides
from nst.study.tables.findings import check_claim_metrics, claimed_experiments, load_claims
from nst.study.figures import captions
from nst.study.plan.invocation import plan_invocation, write_invocation_files
from nst.study.plan.stale_runs import mark_out_of_date

# Environment of every job under --sdm conda (also what `mamba env create -f environment.yml` makes).
CONDA_ENV = "../../environment.yml"


SCHEMA = "../schemas/config.schema.yaml"


def read_config_as_written(config):
    """The config as its files and --config say (nst/study/plan/config_input.py): a key repeated in
    a config file stops here, naming it and both lines (YAML would keep the last silently);
    --config values, which Snakemake parses with YAML's base loader (every scalar a string),
    are read as the schema's types."""
    try:
        check_config_files(workflow.configfiles)
    except NSTError as err:
        sys.exit(f"Error in the workflow config: {err}")
    with open(workflow.source_path(SCHEMA), encoding="utf-8") as schema:
        apply_overrides(config, coerce_overrides(workflow.config_settings.config, yaml.safe_load(schema)))


def validate_or_exit(config):
    """Check the config against the schema (filling its defaults); a bad key stops here with
    one line naming it, not Snakemake's traceback and a dump of the schema."""
    try:
        validate(config, SCHEMA)
    except WorkflowError as err:
        cause = err.__context__  # snakemake raises its WorkflowError inside jsonschema's except
        if not isinstance(cause, ValidationError):
            raise
        key = ".".join(map(str, cause.absolute_path)) or "(top level)"
        sys.exit(f"Error in the workflow config: key {key!r}: {cause.message}")


def plan_or_exit(config):
    """This call's plan and the files its jobs will read (nst/study/plan/invocation.py), computed
    without writing; a bad config or image stops here, before any job, with one message."""
    try:
        return plan_invocation(config, root=".", runs_dir=layout.RUNS)
    except NSTError as err:
        sys.exit(f"Error in the workflow config or images: {err}")


def claims_or_exit(plan):
    """The claims file and its claims, read and checked against the plan (a claim's metric
    must be a column its experiment's table will have) at parse time, so that a bad file
    stops before any run; (None, []) for `claims: null` or a file that is not there (noted)."""
    path = config.get("claims")
    if not path:
        return None, []
    if not os.path.isfile(path):
        print(f"nst: no claims file {path!r} (config key claims): no findings table", file=sys.stderr)
        return None, []
    try:
        claims = load_claims(path)
        check_claim_metrics(plan.manifest(), claims, path)
        return path, claims
    except NSTError as err:
        sys.exit(str(err))  # names the file and the key


def rerun_stale_runs():
    """Finished runs made from images that have changed since (by content, whatever their
    mtime) are marked out of date, so that Snakemake reruns them (nst/study/plan/stale_runs.py).
    The one write at parse time, and on purpose: the mark (run.json's mtime) is what Snakemake
    reads to decide what to rerun, so a dry run shows those reruns too. Only the call a user
    makes marks, never the Snakemake process of a job (a SLURM job parses this file again)."""
    if not (INVOCATION.stale and workflow.is_main_process):
        return
    try:
        PLAN.notes.extend(mark_out_of_date(INVOCATION.stale, layout.RUNS))
    except OSError as err:
        sys.exit(f"Error: cannot mark the finished runs of changed images out of date: {err}")


read_config_as_written(config)
validate_or_exit(config)
INVOCATION = plan_or_exit(config)
PLAN = INVOCATION.plan
CLAIMS_FILE, CLAIMS = claims_or_exit(PLAN)  # before anything is written
rerun_stale_runs()
for note in PLAN.notes:
    print(f"nst: {note}", file=sys.stderr)
# Jobs find this call's execution settings and evaluators through variables naming files
# written at onstart (workflow/rules/runner.smk), before any job, and only by a call that runs
# jobs; the files are named by their content, so no later call changes what this one's jobs read.
os.environ.update(INVOCATION.environment)


def alternatives(values):
    """A wildcard regex matching exactly the known values."""
    return "|".join(re.escape(v) for v in sorted(values)) or "(?!)"


# --- one run -------------------------------------------------------------------------------
def planned_run(wildcards):
    return PLAN.runs[f"{wildcards.content}/{wildcards.style}/{wildcards.run_id}"]


def content_image(wildcards):
    return PLAN.content_images[wildcards.content]


def style_image(wildcards):
    """The style image, or every image of a blend (nst run takes them all)."""
    return PLAN.style_inputs(wildcards.style)


def run_params_json(wildcards):
    """The run's identity settings; execution settings come from `execution` in the shell."""
    return json.dumps(planned_run(wildcards).params.settings(), sort_keys=True)


def trajectory_source(wildcards):
    """The longer run whose snapshot this run is written from (shared trajectory), or the
    shorter run it continues (successive halving, workflow/rules/halving.smk), if any."""
    run = planned_run(wildcards)
    source = run.source or run.resumes
    return run_file(PLAN.runs[source]) if source else []


def trajectory_flag(wildcards, input):
    """nst run's flag for trajectory_source: --from-trajectory or --resume-from its folder."""
    if not input.trajectory:
        return ""
    flag = "--resume-from" if planned_run(wildcards).resumes else "--from-trajectory"
    return f"{flag} {os.path.dirname(input.trajectory)}"


def snapshot_list(wildcards):
    return ",".join(map(str, planned_run(wildcards).params.snapshots))


def run_file(run, name=layout.RECORD):
    return layout.run_file(run.content, run.style, run.run_id, name)


def execution(key):
    return config["execution"][key]


# Whether runs will land on a GPU, guessed once without importing torch (slow) at parse time.
ON_CUDA = cuda_expected(execution("device"))


def gpu_resource(wildcards):
    computed = planned_run(wildcards).source is None  # written from a snapshot: no GPU needed
    # with the batching runner, the runner holds the GPU and jobs only hand it their runs
    return execution("gpus_per_job") if computed and ON_CUDA and not batching() else 0


def run_memory(wildcards):
    """mem_mb of a stylize job (nst/execution/resources.py); profiles' set-resources override it."""
    run = planned_run(wildcards)
    if run.source is not None or batching():  # a snapshot copy, or a job that hands its run to the runner
        return SNAPSHOT_COPY_MB
    return run_memory_mb(run.params, on_cuda=ON_CUDA)


def run_threads():
    return 1 if batching() else execution("threads")


# --- the batching runner (nst/execution/runner.py), for execution.batch_size > 1 on one host -----------
RUNNER_SPOOL = ".snakemake/nst-runner"
RUNNER = []  # the runner this invocation started, if any


def batching():
    return execution("batch_size") > 1 and workflow.local_exec


def start_batching_runner():
    """Start one `nst runner` for this invocation (onstart); jobs find it through NST_RUNNER."""
    if not batching():
        return
    try:
        RUNNER.append(start_runner(RUNNER_SPOOL, execution("batch_size"), execution("threads"), os.getpid()))
    except NSTError as err:
        sys.exit(str(err))


def stop_batching_runner():
    """Stop the runner this invocation started (onsuccess, onerror)."""
    while RUNNER:
        stop_runner(RUNNER.pop())


# --- the fork server (nst/execution/forkserver.py): the jobs' `nst` without the imports -------
FORKSERVER = []  # the server this invocation started, if any
FORKSERVER_LOG = "logs/forkserver.log"


def start_job_forkserver():
    """Start one fork server for this invocation's local jobs (onstart); a server that cannot
    start only costs the jobs their start-up, so the workflow goes on without it."""
    if not (execution("forkserver") and workflow.local_exec):
        return
    try:
        FORKSERVER.append(start_forkserver(FORKSERVER_LOG, os.getpid()))
    except NSTError as err:
        print(f"nst: {err}; the jobs start their own processes", file=sys.stderr)


def stop_job_forkserver():
    """Stop the fork server this invocation started (onsuccess, onerror)."""
    while FORKSERVER:
        stop_forkserver(FORKSERVER.pop())


# Decided once: asked per stylize job while Snakemake builds the DAG.
NEEDS_IMAGENET = any(run.params.weights == "imagenet" for run in PLAN.runs.values())


def weights_record():
    return [layout.weights_record("imagenet")] if NEEDS_IMAGENET else []


def run_weights(wildcards):
    """A run's weights inputs: the verified ImageNet record (every run of a study that uses
    ImageNet anywhere, as before), the verified Caffe record for caffe runs and, for a
    state-dict file, the file itself (its run id counts its content; as an input, replacing it
    reruns the run)."""
    params = planned_run(wildcards).params
    own = [layout.weights_record("caffe")] if params.weights == "caffe" else []
    return weights_record() + own + ([params.weights] if params.uses_weights_file else [])


# --- aggregation ---------------------------------------------------------------------------
def target_run_keys():
    """Each trial's run, a halving experiment's as its decisions leave them (halving.smk)."""
    return sorted({k for name in PLAN.experiments for k in experiment_run_keys(name)})


def all_run_records(wildcards=None):
    """Every target run's run.json and its score files (one per evaluator; see the end of this file)."""
    keys = target_run_keys()
    decisions = [f for name in halving_experiments() for f in decision_files(name)]
    return [f for k in keys for f in [run_file(PLAN.runs[k])] + score_files(PLAN.runs[k])] + decisions


def records_of(name):
    """An experiment's runs' run.json and score files, and its halving decisions."""
    decisions = decision_files(name) if halving_info(name) else []
    return [
        f for k in experiment_run_keys(name) for f in [run_file(PLAN.runs[k])] + score_files(PLAN.runs[k])
    ] + decisions


def images_of(name):
    return [run_file(PLAN.runs[k], layout.IMAGE) for k in experiment_run_keys(name)]


def experiment_records(wildcards):
    return records_of(wildcards.experiment)


def experiment_images(wildcards):
    return images_of(wildcards.experiment)


def results_array_experiments():
    return [PLAN.results_array.baseline, PLAN.results_array.revised]


def results_array_inputs(wildcards):
    return [layout.table(name) for name in results_array_experiments()]


def results_array_records(wildcards):
    """What Table 5 is made from: both experiments' run records and scores."""
    return [f for name in results_array_experiments() for f in records_of(name)]


def results_array_images(wildcards):
    """What the Results Array draws: both experiments' run images."""
    return [f for name in results_array_experiments() for f in images_of(name)]


def results_folder(wildcards, input):
    """The results folder, as seen from the manifest (layout.MANIFEST) this job reads."""
    return layout.results_of_manifest(input.manifest)


# --- statistics over pairs and the paper's claims (nst/study/tables/summary.py, findings.py) ---
def grid_experiments():
    return [name for name, experiment in PLAN.experiments.items() if experiment.kind == "grid"]


def findings_targets():
    return [layout.FINDINGS] if CLAIMS_FILE else []


def claimed_tables(wildcards):
    """The tables of the planned experiments the claims name (the others are 'not run')."""
    return [layout.table(name) for name in claimed_experiments(PLAN, CLAIMS)]


def all_targets(wildcards=None):
    # Every run is a target itself, all three of its files, so a deleted run folder or a
    # deleted image.png is recomputed even though the tables made from it still exist
    # (Snakemake does not rebuild missing intermediates that no job needs to run).
    runs = [PLAN.runs[k] for k in target_run_keys()]
    targets = all_run_records() + [run_file(run, name) for run in runs for name in (layout.IMAGE, layout.HISTORY)]
    targets += [layout.RUNS_TABLE]
    for name in PLAN.experiments:
        targets += [layout.table(name)] + [layout.figure(name, figure) for figure in layout.EXPERIMENT_FIGURES]
    targets += [layout.figure(name, "selection") for name in tuned_experiments()]
    targets += [layout.summary(name) for name in PLAN.experiments]
    for name in grid_experiments():
        targets += [layout.interactions(name), layout.figure(name, "interaction")]
    targets += findings_targets()
    targets += layer_targets()  # workflow/rules/layers.smk
    if PLAN.results_array:
        targets += [layout.RESULTS_ARRAY, layout.TABLE5]
    return targets


# --- scoring (evaluation:) ---
# Every run is scored from its saved image.png by each evaluator of `evaluation:`
# (nst/contracts/evaluators.py), in a job of its own (rule score, workflow/rules/score.smk), on the
# evaluator's network whatever the run was optimised with. A score file is named by the hash
# of the evaluator's settings, so a changed `evaluation:` makes new targets: every run is
# re-scored, none re-optimised (the stylize rule never sees the evaluators).

EVALUATORS = {ev.hash: ev for ev in PLAN.evaluation}  # evaluators with equal settings share files


def score_files(run):
    return [run_file(run, layout.score_name(digest)) for digest in EVALUATORS]


def evaluator_settings(wildcards):
    """The evaluator's settings as JSON (its name is left out: renaming one re-scores nothing)."""
    return json.dumps(EVALUATORS[wildcards.evaluator].to_dict()["settings"], sort_keys=True)


def scoring_weights(wildcards):
    """The scoring network's weights record: imagenet's, verified once by the weights rule;
    caffe's packaged file is checked against its pinned hash at every load; random has none."""
    family = EVALUATORS[wildcards.evaluator].settings["weights"]
    return [layout.weights_record("imagenet")] if family == "imagenet" else []


def score_memory(wildcards):
    """mem_mb of a score job, at the scored size (nst/execution/resources.py)."""
    return score_memory_mb(EVALUATORS[wildcards.evaluator].settings["size"] or planned_run(wildcards).params.size)


def tuned_experiments():
    return [name for name, experiment in PLAN.experiments.items() if experiment.kind == "tune"]


# --- named params (Snakemake's best practice: no lambdas in rules) --------------------------
def get_run_folder(wildcards, output):
    """The run's folder, where `nst run -o` writes it (rule stylize)."""
    return os.path.dirname(output.record)


def get_scored_run_folder(wildcards, input):
    """The scored run's folder (rule score)."""
    return os.path.dirname(input.record)


def get_weights_record_flag(wildcards, input):
    """--weights-record for an evaluator whose network has a verified record (imagenet)."""
    return f"--weights-record {input.weights[0]}" if input.weights else ""


def get_weights_file(wildcards):
    """execution.weights_file, the local copy of torchvision's VGG-19 (rule weights)."""
    return execution("weights_file") or ""


def get_caffe_weights_file(wildcards):
    """execution.weights_file for the caffe family, a full-precision Caffe file (rule caffe_weights)."""
    return execution("caffe_weights_file") or ""


def get_evaluation_caption(wildcards):
    return captions.evaluation_caption(PLAN)


def get_experiment_caption(wildcards):
    return captions.experiment_caption(PLAN, wildcards.experiment)


def get_selection_caption(wildcards):
    return captions.selection_caption(PLAN, wildcards.experiment)


def get_plan_file(wildcards):
    """This call's plan, named by its content, for the plan job to copy. A param, not an input,
    since onstart writes it: a dry run needs no job to make it."""
    return INVOCATION.manifest.path


def get_halving_rule(wildcards):
    """A rung's decision follows the selection rule and eta (changing either decides again,
    by Snakemake's params trigger)."""
    return json.dumps(
        [PLAN.experiments[wildcards.experiment].select, halving_info(wildcards.experiment)["eta"]], sort_keys=True
    )
