"""The fork server (nst/execution/forkserver.py): a served `nst` job does what an unserved one
does (same files, same output streams, same exit code), a killed job takes its child with it,
and without a reachable server a job runs in its own process."""
from __future__ import annotations

import importlib
import os
import shutil
import signal
import subprocess
import time

import psutil
import pytest

from nst.errors import NSTError
from nst.execution import forkserver
from nst.execution.forkserver import PRELOAD, VARIABLE, start_forkserver, stop_forkserver

from kit import nst_command, run_nst

pytestmark = pytest.mark.skipif(not forkserver.available(), reason="needs POSIX sockets that pass file "
                                "descriptors, on Linux; elsewhere the workflow never starts the server")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    environ = {}
    log = tmp_path_factory.mktemp("forkserver") / "forkserver.log"
    started = start_forkserver(log, os.getpid(), environ=environ, wait=120)
    yield started, environ
    stop_forkserver(started, environ)


def served(server) -> dict:
    return {VARIABLE: server[1][VARIABLE]}


def children(server) -> list[psutil.Process]:
    return psutil.Process(server[0].proc.pid).children()


def run_args(content, style, out, iterations=3):
    return ["run", content, style, "-o", out, "--preset", "baseline", "--set", "weights=random",
            "--image-size", "32", "--num-iterations", iterations, "--device", "cpu", "--seed", "3",
            "--init", "noise", "--threads", "1"]


def without_seconds(history: str) -> list[str]:
    return [line.rsplit(",", 1)[0] for line in history.splitlines()]


def test_a_served_run_writes_what_an_unserved_run_writes(server, tmp_path, content_path, style_path):
    # relative paths: the child works in the job's folder, not the server's
    shutil.copy(content_path, tmp_path / "content.png")
    shutil.copy(style_path, tmp_path / "style.png")
    alone = run_nst(run_args("content.png", "style.png", "alone"), cwd=tmp_path)
    before = int(server[0].log.read_text().count("\n"))
    by_server = run_nst(run_args("content.png", "style.png", "served"), env=served(server), cwd=tmp_path)
    assert alone.returncode == by_server.returncode == 0, (alone.stderr, by_server.stderr)
    # its stdout and stderr are the job's own (the rule's log), not the server's
    assert by_server.stdout.split(":")[0] == alone.stdout.split(":")[0]
    assert "weights=random" in by_server.stderr
    assert server[0].log.read_text().count("\n") == before  # nothing of the job in the server's log
    assert (tmp_path / "served" / "image.png").read_bytes() == (tmp_path / "alone" / "image.png").read_bytes()
    assert without_seconds((tmp_path / "served" / "history.csv").read_text()) == \
        without_seconds((tmp_path / "alone" / "history.csv").read_text())


def test_a_served_job_runs_in_the_jobs_folder_with_its_environment_and_exit_code(server, tmp_path):
    # the job's environment: where `nst weights list` looks for the ImageNet file
    listed = run_nst(["weights", "list"], env={**served(server), "TORCH_HOME": str(tmp_path / "th")})
    assert listed.returncode == 0 and str(tmp_path / "th" / "hub") in listed.stdout, listed.stderr
    # its exit code and stderr: a missing image is named as the job would name it, in one line
    bad = run_nst(["run", "missing.png", "missing.png", "-o", "out"], env=served(server), cwd=tmp_path)
    alone = run_nst(["run", "missing.png", "missing.png", "-o", "out"], cwd=tmp_path)
    assert bad.returncode == alone.returncode == 2
    assert bad.stderr == alone.stderr and "missing.png" in bad.stderr and "Traceback" not in bad.stderr


def test_a_killed_job_takes_its_child_with_it(server, tmp_path, content_path, style_path):
    job = subprocess.Popen(nst_command() + [str(a) for a in run_args(content_path, style_path, tmp_path / "run", 100000)],
                           env={**os.environ, **served(server)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not children(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    [child] = children(server)
    job.send_signal(signal.SIGKILL)  # as hard as it gets: the job cannot pass anything on
    job.wait()
    child.wait(timeout=60)  # raises if the child outlives its job
    assert not (tmp_path / "run" / "run.json").exists()  # no finished run claimed


def test_without_a_reachable_server_a_job_runs_in_its_own_process(tmp_path):
    for address in (str(tmp_path / "no-such-socket"), ""):
        done = run_nst(["presets"], env={VARIABLE: address})
        assert done.returncode == 0 and "baseline" in done.stdout, done.stderr


def test_a_server_that_cannot_start_is_an_error_naming_its_log(tmp_path):
    environ = {}
    with pytest.raises(NSTError, match=r"did not start; see .*forkserver\.log"):
        start_forkserver(tmp_path / "forkserver.log", os.getpid(), environ=environ, python="/bin/false", wait=30)
    assert environ == {}  # jobs are never pointed at a server that is not there


def test_the_server_stops_with_its_parent(tmp_path):
    parent = subprocess.Popen(["sleep", "600"])
    started = start_forkserver(tmp_path / "forkserver.log", parent.pid, environ={}, wait=120)
    try:
        parent.kill()
        parent.wait()
        assert started.proc.wait(timeout=30) == 0
        assert "stopped after 0 jobs" in started.log.read_text()
    finally:
        stop_forkserver(started, {})
    assert not started.folder.exists()


@pytest.mark.parametrize("name", PRELOAD)
def test_what_the_server_preloads_exists(name):
    """A renamed module would only make jobs slower, silently: name it here instead."""
    importlib.import_module(name)


def test_a_job_of_another_environment_runs_its_own_code(server, monkeypatch, capfd):
    """Snakemake's --sdm conda or a container: the job's Python or nst is not the server's."""
    assert forkserver.delegate(["presets"], environ=served(server)) == 0  # the same code: served
    assert "baseline" in capfd.readouterr().out  # written to this process's own stdout
    monkeypatch.setattr(forkserver, "_code_identity", lambda: ["/elsewhere/env", "/elsewhere/nst"])
    assert forkserver.delegate(["presets"], environ=served(server)) is None  # the caller runs it
