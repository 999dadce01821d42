"""A fork server: one process per workflow invocation that has imported torch, pandas and
matplotlib once, and forks a child for each `nst` job, which then runs that job's command.

Why: on a CPU a job's own work is often smaller than its start-up. In the demo (96 px, 2 cores)
a run's `nst run` spent about 4 s importing torch, kornia and scikit-image before a 10-30 s
optimisation, and each of the ~100 table, figure, card and score jobs 0.5-2 s importing pandas,
matplotlib or scipy for well under a second of work. A forked child starts with those modules
already imported (shared copy-on-write), so a job costs its work. It is Python's own forkserver
idea (multiprocessing's `set_forkserver_preload`), served to separate processes: the jobs are
started by Snakemake, not by us.

How (Linux; elsewhere it is never started, see `available`):
- The workflow starts it before its first job (`start_forkserver`, in onstart) and sets
  NST_FORKSERVER to its socket, a path in a private (0700) temporary folder; it stops with the
  workflow (onsuccess/onerror), or by itself once the Snakemake process is gone.
- The `nst` command of a job (`delegate`, called first by the console script) connects, checks
  the server is its own user's, and sends its arguments, working folder, environment and its
  stdin/stdout/stderr (the file descriptors themselves, SCM_RIGHTS): the child writes where the
  job would have, e.g. the rule's log. The job then waits and exits with the child's exit code.
- The child resets its signals, takes the job's environment and folder, and runs
  `nst.cli.main(arguments)`, the same code as an unserved job. If the job process dies
  (Snakemake cancelled it), the connection closes and the child gets SIGTERM, as the job would.
- No server, an unreachable one, NST_FORKSERVER unset, or a job of another Python or another
  copy of nst (Snakemake's --sdm conda, a container): the job runs in its own process as always. The server is an optimisation, never a reason for a job to fail.

What a child inherits that a fresh process would not have: the imported modules, and no state
of a run (the server runs no torch operation, so no thread pool exists before the fork; the
child sets torch's threads from the job's OMP_NUM_THREADS as torch would at start-up). Results
are the same bit for bit (tests/execution/test_forkserver.py). Snakemake's `benchmark:` files then
measure the waiting job, not the child: their wall time holds, their memory and CPU columns do
not (set `execution.forkserver: false` to measure those).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, MutableMapping

from ..errors import NSTError
from ..files import process_alive

VARIABLE = "NST_FORKSERVER"  # the socket of this invocation's server; set by the workflow
STOP_SECONDS = 10
ACCEPT_SECONDS = 0.5  # how often the server looks whether its parent is still there
# imported by the server before it listens: what `nst` jobs spend their start-up on
PRELOAD = (
    "torch", "torch.nn", "torch.optim", "kornia.color", "kornia.geometry.transform", "kornia.metrics",
    "skimage.transform", "skimage.feature", "numpy", "pandas", "scipy.stats", "matplotlib",
    "matplotlib.pyplot", "PIL.Image", "nst.run.engine", "nst.run.writer", "nst.run.score",
    "nst.execution.batch", "nst.study.tables.aggregate", "nst.study.figures.run_grids", "nst.study.figures.charts",
    "nst.study.tables.summary", "nst.study.tables.findings", "nst.cli",
)
NOT_SERVED = ("runner", "forkserver")  # long-lived processes of their own
FOLDER_PREFIX = "nst-fork-"  # the server's private folder in the temporary directory


def available() -> bool:
    """Linux only: on macOS a process forked after frameworks have started is not safe (Python's
    multiprocessing starts by spawning there for that reason), so jobs start their own processes."""
    return (sys.platform.startswith("linux") and hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")
            and hasattr(os, "fork"))


# --- the job's side (no heavy import here: this runs before every served command) ---------------
def _send_message(sock: socket.socket, data: dict, fds: list[int] | None = None) -> None:
    payload = json.dumps(data).encode()
    header = struct.pack("!I", len(payload))
    if fds:
        socket.send_fds(sock, [header], fds)
    else:
        sock.sendall(header)
    sock.sendall(payload)


def _receive_message(sock: socket.socket, with_fds: int = 0) -> tuple[dict, list[int]]:
    fds: list[int] = []
    if with_fds:
        header, fds, _, _ = socket.recv_fds(sock, 4, with_fds)
    else:
        header = sock.recv(4)
    while len(header) < 4:
        more = sock.recv(4 - len(header))
        if not more:
            raise ConnectionError("connection closed")
        header += more
    (length,) = struct.unpack("!I", header)
    payload = b""
    while len(payload) < length:
        more = sock.recv(length - len(payload))
        if not more:
            raise ConnectionError("connection closed")
        payload += more
    return json.loads(payload), list(fds)


def _peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux SO_PEERCRED); None where unknown."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _code_identity() -> list[str]:
    """Which Python and which nst: a job in another environment (Snakemake's --sdm conda or a
    container) must run its own code, not the server's."""
    return [sys.prefix, str(Path(__file__).resolve().parents[1])]


def delegate(argv: list[str], environ: MutableMapping[str, str] = os.environ) -> int | None:
    """Run `nst argv` in a child of this invocation's fork server and return its exit code;
    None (the caller runs it itself) when there is no server to use or it cannot be reached."""
    address = environ.get(VARIABLE)
    if not address or not available() or not argv or argv[0] in NOT_SERVED:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
        uid = _peer_uid(sock)
        if uid is not None and uid != os.getuid():
            return None
        _send_message(sock, {"argv": list(argv), "cwd": os.getcwd(), "env": dict(environ), "code": _code_identity()},
                      [0, 1, 2])
        reply, _ = _receive_message(sock)
    except (OSError, ValueError, ConnectionError):
        reply = {}
    if "started" not in reply:  # the command has not begun: run it here
        sock.close()
        return None
    try:
        reply, _ = _receive_message(sock)
        return int(reply.get("exit", 1))
    except (OSError, ValueError, ConnectionError):
        print("nst: the fork server's child ended without an exit code (killed?)", file=sys.stderr)
        return 1
    finally:
        sock.close()


# --- the server's side ------------------------------------------------------------------------
def _exit_code(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    print(value, file=sys.stderr)  # sys.exit("message"), as the interpreter would
    return 1


def _serve_one(conn: socket.socket, command: Callable[[list[str]], int]) -> None:
    """In the forked child: become the job (its fds, folder, environment) and run its command
    (`command(arguments)`, the `nst` CLI's main). Never returns."""
    code = 1
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        request, fds = _receive_message(conn, with_fds=3)
        if request.get("code") != _code_identity():  # another environment's job: it runs itself
            for fd in fds:
                os.close(fd)
            _send_message(conn, {"refused": "another Python or nst"})
            os._exit(0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.pop(VARIABLE, None)  # a command that starts `nst` itself runs it unserved
        _job_threads()
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(line_buffering=stream.isatty())
        sys.argv = ["nst", *request["argv"]]
        _send_message(conn, {"started": os.getpid()})

        def job_gone() -> None:  # the job process closed its end: it was killed
            try:
                while conn.recv(1):
                    pass
            except OSError:
                pass
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=job_gone, daemon=True).start()
        try:
            code = _exit_code(command(request["argv"]))
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
        except BaseException:  # noqa: BLE001 - a bug: the traceback goes to the job's stderr
            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        try:
            _send_message(conn, {"exit": code})
        except OSError:
            pass
        os._exit(code)


def _job_threads() -> None:
    """torch's thread count as a fresh process of this job would have it: torch takes its
    default from OMP_NUM_THREADS (Snakemake sets it to the job's threads) when it starts, and
    the server started with its own environment. `nst run --threads N` sets it again itself."""
    torch = sys.modules.get("torch")
    value = os.environ.get("OMP_NUM_THREADS", "")
    if torch is not None and value.isdigit() and int(value) > 0:
        torch.set_num_threads(int(value))


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(address: str, command: Callable[[list[str]], int], parent_pid: int | None = None,
          preload=PRELOAD) -> None:
    """Import `preload`, listen on `address` and fork a child per connection that runs
    `command(arguments)` (the CLI's main, handed in by `nst forkserver`: execution/ sits below
    the CLI), until SIGTERM or until `parent_pid` has exited."""
    from .process import skip_dynamo_import

    skip_dynamo_import()  # as `nst run` does before torch.optim is used
    for name in preload:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a module missing here is imported by the job itself
            pass
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    os.chmod(address, 0o600)
    server.listen(64)
    server.settimeout(ACCEPT_SECONDS)
    print(f"{time.strftime('%H:%M:%S')} nst fork server {os.getpid()} listening on {address}", flush=True)
    served = 0
    try:
        while not stop:
            _reap()
            if parent_pid is not None and not process_alive(parent_pid):
                break
            try:
                conn, _ = server.accept()
            except (socket.timeout, InterruptedError):
                continue
            except OSError:
                if stop:
                    break
                raise
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                server.close()
                conn.settimeout(None)
                _serve_one(conn, command)
            conn.close()
            served += 1
    finally:
        server.close()
        Path(address).unlink(missing_ok=True)
        if Path(address).parent.name.startswith(FOLDER_PREFIX):  # its private folder, if now empty
            try:
                Path(address).parent.rmdir()
            except OSError:
                pass
        print(f"{time.strftime('%H:%M:%S')} nst fork server {os.getpid()} stopped after {served} jobs", flush=True)


# --- its lifecycle (the workflow's side) ------------------------------------------------------
class ForkServer:
    """A started server: its process and its private folder (removed when it stops)."""

    def __init__(self, proc: subprocess.Popen, folder: Path, address: str, log: Path):
        self.proc, self.folder, self.address, self.log = proc, folder, address, log


def start_forkserver(log: str | os.PathLike, parent_pid: int, environ: MutableMapping[str, str] = os.environ,
                     python: str = sys.executable, wait: float | None = None) -> ForkServer:
    """Start `nst forkserver` and set NST_FORKSERVER in `environ` (os.environ: inherited by the
    jobs this process starts); its output goes to `log`. It returns at once by default: jobs
    that start while the server is still importing run in their own process, so the workflow's
    first jobs do not wait for it. With `wait` (seconds), it returns once the server listens,
    and raises NSTError, the server stopped, if it exits or does not listen in time."""
    if not available():
        raise NSTError("a fork server needs POSIX sockets that pass file descriptors (Linux only)")
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))  # 0700: only this user reaches the socket
    address = str(folder / "socket")  # short: a socket path has a limit of about 100 bytes
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "nst", "forkserver", "--socket", address, "--parent-pid", str(parent_pid)]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = ForkServer(proc, folder, address, log)
    if wait is not None:
        deadline = time.monotonic() + wait
        while not os.path.exists(address):  # bound just before it listens
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_forkserver(server, environ)
                raise NSTError(f"the nst fork server did not start; see {log}")
            time.sleep(0.1)
    environ[VARIABLE] = address
    return server


def stop_forkserver(server: ForkServer, environ: MutableMapping[str, str] = os.environ,
                    timeout: float = STOP_SECONDS) -> None:
    """Stop the server (its running children finish their jobs) and remove its folder."""
    if environ.get(VARIABLE) == server.address:
        del environ[VARIABLE]
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
    shutil.rmtree(server.folder, ignore_errors=True)

