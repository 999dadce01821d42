"""The workflow on a real SLURM cluster: slurmctld + slurmd + munged on this host
(scripts/slurm-up.sh), the executor plugin snakemake-executor-plugin-slurm, and the test
cluster's profile workflow/profiles/slurm-local.

Skipped, with the reason, where the cluster cannot be started: not root, no apt-get, the packages
not installable, the plugin not installed, or NST_SKIP_SLURM=1. What it proves and what it does
not (one node, CPU, no GPU gres, no accounting database): README, "Running on a SLURM cluster".
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from nst.execution.resources import run_memory_mb
from kit import BIN, ROOT, make_study, plan_of, snakemake

pytestmark = pytest.mark.workflow

PROFILES = ROOT / "workflow/profiles"
LOCAL_PROFILE = "workflow/profiles/slurm-local"
# 2 content x 2 style images, one run each: 4 stylize jobs.
SLURM_CONFIG = {
    "images": {"content": "images/content", "style": "images/style"},
    "pairs": "all",
    "params": {"size": 32, "iterations": 3, "weights": "random", "seed": 7},
    "execution": {"device": "cpu", "threads": 1},
    "experiments": {"matrix": {"title": "Every pair", "base": "baseline"}},
}
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: ([^)]+)\)")


def profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


def group_size(name: str = "slurm-local") -> int:
    return int(dict(item.split("=") for item in profile(name)["group-components"])["stylize"])


# --- the profiles (no cluster needed) --------------------------------------------------------
def test_cluster_profile_sets_where_and_how_and_groups_runs():
    real = profile("slurm")
    assert real["executor"] == "slurm"
    for key in ("slurm_partition", "runtime", "mem_mb"):
        assert key in real["default-resources"], key
    stylize = real["set-resources"]["stylize"]
    assert stylize["gpu"] == 1 and stylize["cpus_per_task"] == real["set-threads"]["stylize"]
    assert "stylize=stylize" in real["groups"] and group_size("slurm") > 1
    # one GPU per SLURM job (group), not per workflow
    assert "gpu=1" in real["resources"] and "gpu=local" in real["set-resource-scopes"]


def test_test_cluster_profile_groups_like_the_real_one():
    real, local = profile("slurm"), profile("slurm-local")
    for key in ("executor", "groups", "resources", "set-resource-scopes"):
        assert local[key] == real[key], key
    assert group_size("slurm-local") > 1


def test_cluster_profile_plans_grouped_runs(tmp_path):
    """A dry run with the real profile: every option is one snakemake and the plugin know, the
    stylize jobs form group jobs, and the aggregation rules stay outside them."""
    if not _plugin_installed():
        pytest.skip("snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')")
    root = make_study(tmp_path / "study", SLURM_CONFIG)
    proc = snakemake(root, "-n", "--workflow-profile", "workflow/profiles/slurm")
    out = proc.stdout + proc.stderr
    assert out.count("Group job stylize") == math.ceil(4 / group_size("slurm")), out[-3000:]
    assert len(re.findall(r"^    rule stylize:", out, re.M)) == 4  # inside the group jobs
    assert not re.search(r"^(local)?rule stylize:", out, re.M)  # none outside
    assert re.search(r"^rule runs_table:", out, re.M)


def _plugin_installed() -> bool:
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return False
    return True


# --- a real cluster --------------------------------------------------------------------------
@dataclass
class Cluster:
    state: Path
    env: dict
    pids: dict

    def jobcomp(self) -> dict[str, dict[str, str]]:
        """SLURM's own record of every finished job (jobcomp/filetxt): job id -> fields."""
        records = {}
        path = self.state / "jobcomp.txt"
        for line in path.read_text().splitlines() if path.exists() else []:
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            records[fields["JobId"]] = fields
        return records

    def stop(self) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ROOT / "scripts/slurm-down.sh"), str(self.state)],
                              capture_output=True, text=True, timeout=120)


def alive(name: str, pid: int) -> bool:
    """Whether `pid` is still the daemon `name` (a zombie, exited but unreaped, is not)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return comm == name and "\nState:\tZ" not in status


@pytest.fixture(scope="module")
def cluster():
    if os.environ.get("NST_SKIP_SLURM"):
        pytest.skip("NST_SKIP_SLURM is set")
    if not _plugin_installed():
        pytest.skip("snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')")
    # Not under pytest's 0700 tmp folder: munged runs as user munge and must reach its socket.
    state = Path(tempfile.mkdtemp(prefix="nst-slurm-"))
    up = subprocess.run(["bash", str(ROOT / "scripts/slurm-up.sh"), str(state)],
                        capture_output=True, text=True, timeout=600)
    if up.returncode == 3:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(up.stderr.strip().splitlines()[-1])
    pids = {}
    pid_file = state / "pids"
    for line in pid_file.read_text().splitlines() if pid_file.exists() else []:
        name, pid = line.split()
        pids[name] = int(pid)
    env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf"),
           "PATH": os.pathsep.join([str(BIN), str(state / "bin"), os.environ.get("PATH", "")])}
    running = Cluster(state, env, pids)
    try:
        assert up.returncode == 0, f"slurm-up.sh failed:\n{up.stdout}\n{up.stderr}"
        assert set(pids) == {"munged", "slurmctld", "slurmd"}, pids
        yield running
    finally:
        running.stop()
        if not any(alive(name, pid) for name, pid in pids.items()):
            shutil.rmtree(state, ignore_errors=True)


def slurm_snakemake(root: Path, cluster: Cluster, *args: str, timeout: int = 240):
    """snakemake --executor slurm through the test cluster's profile. The job's environment
    (sbatch --export=ALL) has the same PATH, so `snakemake --executor slurm-jobstep` inside the
    allocation and `nst` are this virtualenv's."""
    cmd = [str(BIN / "snakemake"), "--workflow-profile", LOCAL_PROFILE, "--configfile", "study.yaml", *args]
    return subprocess.run(cmd, cwd=root, env=cluster.env, capture_output=True, text=True, timeout=timeout)


def runs_in_slurm_log(log: Path) -> set[tuple[str, str, str]]:
    """(content, style, run_id) of every stylize job the job step in this SLURM job finished."""
    text = log.read_text(errors="replace")
    done = set()
    for block in re.split(r"\n(?=\[[^\]]+\]\n)", text):
        match = re.search(r"^(?:local)?rule stylize:.*?wildcards: content=(\S+), style=(\S+), run_id=(\w+)",
                          block, re.S | re.M)
        if match:
            done.add(match.groups())
    return done


@pytest.fixture(scope="module")
def slurm_study(cluster, tmp_path_factory):
    root = make_study(tmp_path_factory.mktemp("slurm-study"), SLURM_CONFIG)
    proc = slurm_snakemake(root, cluster)
    assert proc.returncode == 0, f"SLURM run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return root, proc.stdout + proc.stderr


def test_every_stylize_job_ran_in_a_slurm_job(slurm_study, cluster):
    root, output = slurm_study
    planned = {(r.content, r.style, r.run_id) for r in plan_of(root, SLURM_CONFIG).runs.values()}
    submitted = SUBMITTED.findall(output)
    # grouping: N runs per SLURM job, so fewer SLURM jobs than runs
    assert len(submitted) == math.ceil(len(planned) / group_size()) < len(planned), output[-3000:]
    seen: list[tuple[str, str, str]] = []
    jobcomp = cluster.jobcomp()
    runs = {(r.content, r.style, r.run_id): r for r in plan_of(root, SLURM_CONFIG).runs.values()}
    for jobid, log in submitted:
        log = Path(log)
        assert log.is_relative_to(root / ".snakemake/slurm_logs") and log.is_file(), log
        assert "group_stylize" in str(log)
        text = log.read_text(errors="replace")
        assert "--executor slurm-jobstep" in text
        done = runs_in_slurm_log(log)
        assert done and text.count("Finished jobid") >= len(done), text[-2000:]
        seen += sorted(done)
        # SLURM's own record: the job finished, exit code 0, in this study's folder
        record = jobcomp[jobid]
        assert record["JobState"] == "COMPLETED" and record["ExitCode"] == "0:0", record
        assert record["WorkDir"] == str(root)
        # memory asked of SLURM: each run's own estimate (its runs take turns or share the job)
        estimates = [run_memory_mb(runs[key].params) for key in done]
        asked = int(re.search(r"\bmem=(\d+)M", record["Tres"]).group(1))
        assert max(estimates) <= asked <= sum(estimates), (record["Tres"], estimates)
    assert sorted(seen) == sorted(planned)  # every run once, each in exactly one SLURM job
    # weights and the tables/figures are localrules: nothing else was submitted
    assert [p.name for p in (root / ".snakemake/slurm_logs").iterdir()] == [Path(submitted[0][1]).parent.name]
    assert (root / "results/tables/runs.csv").is_file()
    assert (root / "results/figures/matrix/grid.png").is_file()


def test_results_equal_a_local_run(slurm_study, tmp_path):
    slurm_root, _ = slurm_study
    local_root = make_study(tmp_path / "local", SLURM_CONFIG)
    snakemake(local_root)
    timing = ["seconds"]
    on_slurm = pd.read_csv(slurm_root / "results/tables/runs.csv").drop(columns=timing)
    local = pd.read_csv(local_root / "results/tables/runs.csv").drop(columns=timing)
    pd.testing.assert_frame_equal(on_slurm, local, check_exact=True)
    assert (on_slurm.status == "ok").all() and len(on_slurm) == 4
    for run in plan_of(local_root, SLURM_CONFIG).runs.values():
        rel = Path("results/runs", run.content, run.style, run.run_id)
        a, b = slurm_root / rel, local_root / rel
        with Image.open(a / "image.png") as x, Image.open(b / "image.png") as y:
            assert x.tobytes() == y.tobytes(), rel  # the same pixels, bit for bit
        assert (a / "image.png").read_bytes() == (b / "image.png").read_bytes(), rel
        history_a = pd.read_csv(a / "history.csv").drop(columns=timing, errors="ignore")
        history_b = pd.read_csv(b / "history.csv").drop(columns=timing, errors="ignore")
        pd.testing.assert_frame_equal(history_a, history_b, check_exact=True)
        record_a, record_b = (json.loads((d / "run.json").read_text()) for d in (a, b))
        assert record_a["final"] == record_b["final"] and record_a["evaluation"] == record_b["evaluation"]


def test_a_job_failing_in_slurm_fails_the_workflow_with_its_logs(cluster, tmp_path):
    """An impossible device passes planning (the config is valid) and fails inside the SLURM job:
    `nst run` exits 2; SLURM records the job as failed; snakemake fails and names both logs."""
    import torch

    device = "cuda" if not torch.cuda.is_available() else "mps"
    config = {**SLURM_CONFIG, "pairs": [{"content": "cat", "style": "wave"}],
              "execution": {"device": device, "threads": 1}}
    root = make_study(tmp_path / "failing", config)
    proc = slurm_snakemake(root, cluster)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    submitted = SUBMITTED.findall(output)
    assert len(submitted) == 1, output[-3000:]
    jobid, slurm_log = submitted[0]
    run = next(iter(plan_of(root, config).runs.values()))
    rule_log = f"logs/runs/{run.content}/{run.style}/{run.run_id}.log"
    assert "Error in group stylize" in output or "Error in rule stylize" in output, output[-3000:]
    assert slurm_log in output and rule_log in output, output[-3000:]
    assert "not available" in (root / rule_log).read_text()
    record = cluster.jobcomp()[jobid]
    assert record["JobState"] == "FAILED" and record["ExitCode"] != "0:0", record
    assert not (root / "results/runs" / run.content / run.style / run.run_id / "run.json").exists()
    assert not (root / "results/tables/runs.csv").exists()


def test_the_daemons_are_gone_afterwards(cluster):
    """Runs last: stop the cluster (the fixture stops it again if an earlier test failed)."""
    down = cluster.stop()
    assert down.returncode == 0, down.stderr
    for name, pid in cluster.pids.items():
        assert not alive(name, pid), f"{name} (pid {pid}) still running"
