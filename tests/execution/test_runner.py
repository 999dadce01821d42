"""The batching runner's lifecycle (start_runner, stop_runner) and its spool protocol, without
Snakemake: what the workflow's onstart/onsuccess/onerror do, done by hand."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nst import preset
from nst.errors import NSTError
from nst.execution.runner import RUNNER_VARIABLE, runner_pid, start_runner, stop_runner, submit


def test_a_runner_starts_computes_a_handed_over_run_and_stops(tmp_path):
    spool = tmp_path / "spool"
    (spool / "queue").mkdir(parents=True)
    (spool / "queue" / "stale.json").write_text("{}")  # left by an earlier invocation
    for i, name in enumerate(("content", "style")):
        rng = np.random.default_rng(i)
        Image.fromarray((rng.random((34, 34, 3)) * 255).astype("uint8")).save(tmp_path / f"{name}.png")
    environ = {}

    proc = start_runner(spool, batch_size=2, threads=1, parent_pid=os.getpid(), environ=environ)
    try:
        assert runner_pid(spool) == proc.pid and proc.poll() is None  # ready when it returns
        assert environ == {RUNNER_VARIABLE: str(spool.resolve())}
        assert not (spool / "queue" / "stale.json").exists()  # a fresh spool
        params = preset("baseline", weights="random", size=32, iterations=2, device="cpu")
        summary = submit(environ[RUNNER_VARIABLE], params, tmp_path / "content.png", tmp_path / "style.png",
                         tmp_path / "run", timeout=300)
        assert summary.startswith(params.run_id) and "nst runner" in summary
        assert json.loads((tmp_path / "run" / "run.json").read_text())["run_id"] == params.run_id
    finally:
        stop_runner(proc)
    assert proc.returncode == 0  # SIGTERM: it leaves its loop and exits cleanly
    assert not (spool / "runner.json").exists()


def test_a_runner_that_does_not_start_is_an_error_naming_its_log(tmp_path):
    environ = {}
    with pytest.raises(NSTError, match=r"did not start; see .*spool/runner\.log"):
        start_runner(tmp_path / "spool", 2, 1, os.getpid(), environ=environ, python="/bin/false")
    assert environ == {}  # jobs are never pointed at a runner that is not there


def test_a_runner_not_ready_in_time_is_stopped(tmp_path):
    with pytest.raises(NSTError, match="did not start"):
        start_runner(tmp_path / "spool", 2, 1, os.getpid(), environ={}, timeout=0)
    assert runner_pid(tmp_path / "spool") is None


IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
"""


def test_a_runner_that_ignores_sigterm_is_killed():
    proc = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    stop_runner(proc, timeout=0.5)
    assert proc.returncode == -signal.SIGKILL
    proc.stdout.close()
    stop_runner(proc)  # already stopped: nothing to do
