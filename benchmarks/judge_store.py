"""The judgements database (nst/judge/store.py): synchronous=FULL (shipped) against NORMAL,
both in WAL mode, side by side in one run.

    python benchmarks/judge_store.py [--folder DIR] [--judgements 2000] [--threads 20] [--repeats 3] [--kills 3]

1. Throughput: `--threads` writer threads store `--judgements` judgements through Store.add
   (one commit each, as the server does per POST), the two modes alternating, `--repeats` times;
   the median judgements per second of each.
2. kill -9: a child process stores judgements in a loop and prints each id once Store.add has
   returned (what the server acknowledges); the parent kills it with SIGKILL after a few hundred
   and counts acknowledged ids missing from the database (opened afterwards as nst judge would).
   `--kills` times per mode. This is a process crash only: power loss is what FULL adds (an fsync
   of the WAL per commit), and no benchmark here can pull the plug.
Prints a markdown report (BENCHMARKS.md keeps it).
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nst.judge.store import Store  # noqa: E402

MODES = ("FULL", "NORMAL")


def judgement(n: int, writer: int) -> dict:
    return {"id": f"w{writer:02d}-{n:06d}", "rater": f"rater{writer}", "content": "c", "style": "s",
            "run_a": "a" * 12, "run_b": "b" * 12, "sha256_a": "0" * 64, "sha256_b": "1" * 64, "left": "a",
            "answer": "left", "question": "overall", "repeat": 0, "round": "r", "response_ms": 1000}


def throughput(folder: Path, mode: str, total: int, threads: int) -> float:
    path = folder / f"throughput-{mode}-{time.monotonic_ns()}.sqlite"
    store = Store(path, synchronous=mode)
    per = total // threads

    def write(writer: int) -> None:
        for n in range(per):
            store.add(judgement(n, writer))

    workers = [threading.Thread(target=write, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - started
    assert store.count() == per * threads
    store.close()
    return per * threads / seconds


CHILD = """
import sys
sys.path.insert(0, {repo!r})
from benchmarks.judge_store import judgement
from nst.judge.store import Store
store = Store({path!r}, synchronous={mode!r})
n = 0
while True:
    store.add(judgement(n, 0))
    print(judgement(n, 0)["id"], flush=True)
    n += 1
"""


def kill_test(folder: Path, mode: str, after: int = 300) -> tuple[int, int, int]:
    """(acknowledged, stored, acknowledged but lost) of one SIGKILL mid-write."""
    path = folder / f"kill-{mode}-{time.monotonic_ns()}.sqlite"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO), path=str(path), mode=mode)],
                             stdout=subprocess.PIPE, text=True)
    acked = []
    while len(acked) < after:
        acked.append(child.stdout.readline().strip())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    acked += [line.strip() for line in child.stdout.read().splitlines() if line.strip()]  # printed before death
    with sqlite3.connect(path) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM judgements")}
    return len(acked), len(stored), len(set(acked) - stored)


def filesystem(folder: Path) -> str:
    try:
        out = subprocess.run(["df", "-T", str(folder)], capture_output=True, text=True, check=True).stdout
        return out.splitlines()[1].split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", help="where the databases go (default: a temporary folder in /tmp)")
    parser.add_argument("--judgements", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args(argv)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="nst-judge-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rates = {mode: [] for mode in MODES}
    for repeat in range(args.repeats):
        for mode in (MODES if repeat % 2 == 0 else MODES[::-1]):  # alternating: the machine is shared
            rates[mode].append(throughput(folder, mode, args.judgements, args.threads))
    kills = {mode: [kill_test(folder, mode) for _ in range(args.kills)] for mode in MODES}
    lines = [f"Command: `python benchmarks/judge_store.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
             f" (databases on {filesystem(folder)}, load average {os.getloadavg()[0]:.2f} at the end)", "",
             "| synchronous | judgements/s (median of {0}; {1} threads, {2} judgements) | each run | kill -9: acknowledged / stored / lost |".format(
                 args.repeats, args.threads, args.judgements),
             "| --- | --- | --- | --- |"]
    for mode in MODES:
        each = ", ".join(f"{r:.0f}" for r in rates[mode])
        killed = "; ".join(f"{a} / {s} / {lost}" for a, s, lost in kills[mode])
        lines.append(f"| {mode}{' (shipped)' if mode == 'FULL' else ''} | {statistics.median(rates[mode]):.0f} | "
                     f"{each} | {killed} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
