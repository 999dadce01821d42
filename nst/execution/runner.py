"""A runner: one long-lived process per host that computes the runs `nst run` jobs hand it.

On a GPU a 512 px run is about a second of compute after several seconds of start-up, so one
process per run leaves the device mostly idle. With `execution.batch_size` > 1 the workflow
starts a runner before its jobs (and stops it after); each stylize job stays one job with its
own file targets, but its `nst run` only drops a request into the runner's spool folder and
waits. The runner collects the requests that arrive together and computes them with
`nst.execution.batch.stylize_many` (stacked where that is exact, else one after another), with the
network loaded once. The spool protocol is files, so it needs no network and no extra package:

  <spool>/runner.json     {"pid": ..., "batch_size": ...} once the runner is ready
  <spool>/queue/<id>.json a request: params, content, style, outdir (written atomically)
  <spool>/done/<id>.json  the answer: {"ok": bool, "message": str}
  <spool>/runner.log      the runner's output

The workflow starts the runner with start_runner and stops it with stop_runner (its onstart,
onsuccess and onerror handlers); jobs find the spool through the NST_RUNNER variable.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import MutableMapping

from ..contracts.params import RunParams
from ..errors import NSTError
from ..files import process_alive, write_text

POLL_SECONDS = 0.05
GATHER_SECONDS = 0.5  # jobs started together arrive within this; they go in one batch
RUNNER_VARIABLE = "NST_RUNNER"  # the spool of this invocation's runner; set by the workflow, never by the user
START_SECONDS = 300  # the runner imports torch before it says it is ready
STOP_SECONDS = 60


def _write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data))


def runner_pid(spool: Path) -> int | None:
    try:
        return int(json.loads((spool / "runner.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


# --- the client side: no torch import here ------------------------------------------------
def submit(spool: str | os.PathLike, params: RunParams, content: str, style: str | list[str], outdir: str,
           timeout: float | None = None) -> str:
    """Hand one run to the runner and wait for it; returns its one-line summary."""
    spool = Path(spool)
    pid = runner_pid(spool)
    if pid is None or not process_alive(pid):
        raise NSTError(f"no nst runner is running for spool {str(spool)!r} (see {spool}/runner.log)")
    request_id = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
    (spool / "queue").mkdir(parents=True, exist_ok=True)
    styles = [str(Path(s).resolve()) for s in style] if isinstance(style, list) else str(Path(style).resolve())
    _write_json(spool / "queue" / f"{request_id}.json", {
        "params": params.to_dict(), "content": str(Path(content).resolve()), "style": styles,
        "outdir": str(Path(outdir).resolve()),
    })
    answer = spool / "done" / f"{request_id}.json"
    deadline = None if timeout is None else time.monotonic() + timeout
    while not answer.exists():
        if not process_alive(pid):
            raise NSTError(f"the nst runner (pid {pid}) stopped before finishing this run; see {spool}/runner.log")
        if deadline is not None and time.monotonic() > deadline:
            raise NSTError(f"the nst runner did not finish this run within {timeout} s")
        time.sleep(POLL_SECONDS)
    result = json.loads(answer.read_text())
    answer.unlink(missing_ok=True)
    if not result["ok"]:
        raise NSTError(result["message"])
    return result["message"]


# --- the runner side ----------------------------------------------------------------------
def _take_requests(queue: Path) -> list[tuple[str, dict]]:
    taken = []
    for path in sorted(queue.glob("*.json")):
        try:
            taken.append((path.stem, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
        path.unlink(missing_ok=True)
    return taken


def _compute(requests: list[tuple[str, dict]], batch_size: int) -> dict[str, dict]:
    """Answers by request id. A batch that fails is retried run by run, so one bad input fails
    only its own job."""
    from .batch import stylize_many
    from ..run.writer import write_run

    def answer(result, outdir):
        write_run(result, outdir)
        return {"ok": True, "message": f"{result.params.run_id}: {result.outcome()} (batched in the nst runner) -> {outdir}"}

    # the runner, not each job, owns the CPU threads (set once in serve)
    parsed = [(rid, RunParams.from_dict({**r["params"], "threads": 0}), r) for rid, r in requests]
    try:
        results = stylize_many([(p, r["content"], r["style"]) for _, p, r in parsed], batch_size)
        return {rid: answer(result, r["outdir"]) for (rid, _, r), result in zip(parsed, results)}
    except Exception:  # noqa: BLE001 - fall through to one at a time, each with its own error
        pass
    answers = {}
    for rid, params, r in parsed:
        try:
            [result] = stylize_many([(params, r["content"], r["style"])], 1)
            answers[rid] = answer(result, r["outdir"])
        except Exception as err:  # noqa: BLE001 - reported to the job that asked
            answers[rid] = {"ok": False, "message": f"{type(err).__name__}: {err}"}
    return answers


def serve(spool: str | os.PathLike, batch_size: int = 8, parent_pid: int | None = None,
          idle_exit: float | None = None, threads: int = 0) -> None:
    """Compute requests until stopped (SIGTERM), the parent exits, or idle for `idle_exit` s."""
    spool = Path(spool)
    queue, done = spool / "queue", spool / "done"
    queue.mkdir(parents=True, exist_ok=True)
    done.mkdir(parents=True, exist_ok=True)
    import torch  # pay the import before saying ready

    if threads > 0:
        torch.set_num_threads(threads)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    _write_json(spool / "runner.json", {"pid": os.getpid(), "batch_size": batch_size})
    last_work = time.monotonic()
    while not stop:
        if parent_pid is not None and not process_alive(parent_pid):
            break
        if idle_exit is not None and time.monotonic() - last_work > idle_exit:
            break
        if not any(queue.glob("*.json")):
            time.sleep(POLL_SECONDS)
            continue
        time.sleep(GATHER_SECONDS)
        requests = _take_requests(queue)
        began = time.monotonic()
        answers = _compute(requests, batch_size)
        for rid, reply in answers.items():
            _write_json(done / f"{rid}.json", reply)
        failed = sum(not a["ok"] for a in answers.values())
        print(f"{time.strftime('%H:%M:%S')} {len(requests)} runs in {time.monotonic() - began:.1f} s"
              f"{f', {failed} failed' if failed else ''}", flush=True)
        last_work = time.monotonic()
    (spool / "runner.json").unlink(missing_ok=True)


# --- its lifecycle (the workflow's side) ------------------------------------------------------
def start_runner(spool: str | os.PathLike, batch_size: int, threads: int, parent_pid: int,
                 environ: MutableMapping[str, str] = os.environ, python: str = sys.executable,
                 timeout: float = START_SECONDS) -> subprocess.Popen:
    """Start `nst runner` on a fresh `spool` folder (anything there before is removed) and wait
    until it is ready; then set NST_RUNNER in `environ` (os.environ: inherited by the jobs this
    process starts) and return the process. It stops by itself once `parent_pid` has exited.
    NSTError, with the runner stopped, if it exits or is not ready within `timeout` seconds."""
    spool = Path(spool)
    shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True)
    command = [python, "-m", "nst", "runner", "--spool", str(spool), "--batch-size", str(batch_size),
               "--threads", str(threads), "--parent-pid", str(parent_pid)]
    # its own session: signals to the terminal's process group miss it; stop_runner, or its
    # parent's exit, stops it
    with open(spool / "runner.log", "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not (spool / "runner.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_runner(proc)
            raise NSTError(f"the nst runner did not start; see {spool}/runner.log")
        time.sleep(0.1)
    environ[RUNNER_VARIABLE] = str(spool.resolve())
    return proc


def stop_runner(proc: subprocess.Popen, timeout: float = STOP_SECONDS) -> None:
    """Stop a runner start_runner started: SIGTERM (it finishes the batch it is computing),
    then SIGKILL after `timeout` seconds. Nothing to do if it has exited."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
