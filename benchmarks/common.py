"""Shared pieces of the benchmarks: the machine, the stand-in weights, the images, child
processes with their own peak RSS, medians and markdown tables."""
from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTHON = sys.executable
THREADS = 2  # torch.set_num_threads for every measured computation (this machine has 2 cores)


# --- the machine ---------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def mem_total_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return "n/a"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "n/a"


def machine_info() -> dict[str, str]:
    from importlib.metadata import version

    import torch

    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": mem_total_gib(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": version("torchvision"),
        "snakemake": version("snakemake"),
        "cuda available": str(torch.cuda.is_available()),
        "git commit": git_commit(),
        "load average (1/5/15 min)": loadavg(),
    }


# --- stand-in weights and images -----------------------------------------------------------
@dataclass(frozen=True)
class Weights:
    full: Path       # torchvision vgg19() state dict, classifier included (548 MB, as the ImageNet file)
    features: Path   # its features.* tensors only (as `nst weights fetch` writes)


def stand_in_weights(cache: Path) -> Weights:
    """Seeded random weights in torchvision's key names, saved once in `cache`: the ImageNet
    file cannot be downloaded here, and only its size and keys matter for timing."""
    cache.mkdir(parents=True, exist_ok=True)
    full, features = cache / "vgg19-random-full.pth", cache / "vgg19-random-features.pth"
    if not (full.is_file() and features.is_file()):
        code = (
            "import torch, torchvision, sys\n"
            "torch.manual_seed(0)\n"
            "state = torchvision.models.vgg19().state_dict()\n"
            "torch.save(state, sys.argv[1] + '.tmp')\n"
            "torch.save({k: v for k, v in state.items() if k.startswith('features.')}, sys.argv[2] + '.tmp')\n"
        )
        subprocess.run([PYTHON, "-c", code, str(full), str(features)], check=True)
        os.replace(str(full) + ".tmp", full)
        os.replace(str(features) + ".tmp", features)
    return Weights(full, features)


def test_images(cache: Path, size: int) -> tuple[Path, Path]:
    """A content and a style image of exactly size x size (so no method resizes them): smooth
    seeded colour fields for the content, seeded stripes plus noise for the style."""
    import numpy as np
    from PIL import Image

    cache.mkdir(parents=True, exist_ok=True)
    content, style = cache / f"content_{size}.png", cache / f"style_{size}.png"
    if not (content.is_file() and style.is_file()):
        rng = np.random.default_rng(size)
        y, x = np.mgrid[0:size, 0:size] / size
        c = np.stack([np.sin(6 * x + 1), np.cos(4 * y), np.sin(3 * (x + y))], -1) * 0.4 + 0.5
        c += rng.normal(0, 0.03, c.shape)
        s = np.stack([np.sin(40 * x), np.sin(40 * (x + y)), np.cos(25 * y)], -1) * 0.45 + 0.5
        s += rng.normal(0, 0.1, s.shape)
        for arr, path in ((c, content), (s, style)):
            Image.fromarray((np.clip(arr, 0, 1) * 255).astype("uint8"), "RGB").save(path)
    return content, style


# --- child processes -----------------------------------------------------------------------
@dataclass
class Child:
    started: float      # time.time() just before the fork
    wall: float         # seconds from fork to exit (time.perf_counter)
    maxrss_mib: float   # the command's own peak RSS
    returncode: int
    stdout: str
    stderr: str


# A child's ru_maxrss on Linux starts from the RSS of the process it was forked from (exec keeps
# the old address space's high-water mark), so children of this (large) process would all show
# its size. Every command is therefore started through a small launcher, GNU time or else a
# bare Python, which forks and execs the command and reports the grandchild's own peak RSS.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 900) -> Child:
    """Run `cmd`; its wall time (fork to exit) and its own peak RSS."""
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"nst-bench-{os.getpid()}"
    out_path, err_path, rss_path = (tmp.with_suffix(s) for s in (".out", ".err", ".rss"))
    if Path("/usr/bin/time").is_file():
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", str(rss_path), *map(str, cmd)]
    else:
        wrapped = [sys.executable, "-S", "-c", LAUNCHER, str(rss_path), *map(str, cmd)]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, cwd=cwd, env=env, stdout=out, stderr=err)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        wall = time.perf_counter() - t0
    rss_lines = rss_path.read_text().split() if rss_path.is_file() else []
    maxrss_kib = float(rss_lines[-1]) if rss_lines and rss_lines[-1].isdigit() else float("nan")
    child = Child(started, wall, maxrss_kib / 1024, proc.returncode, out_path.read_text(), err_path.read_text())
    for path in (out_path, err_path, rss_path):
        path.unlink(missing_ok=True)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({child.returncode}):\n{child.stdout[-2000:]}\n"
                           f"{child.stderr[-3000:]}")
    return child


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


# --- numbers and tables --------------------------------------------------------------------
def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values) -> str:
    """min-max of a list, for a table cell."""
    return f"{min(values):.3g}-{max(values):.3g}" if values else "n/a"


def table(header: list[str], rows: list[list]) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
