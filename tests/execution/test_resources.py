"""nst/execution/resources.py: the host memory a run declares (the workflow's mem_mb) covers what a run
really peaks at, without asking for several times that."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nst.execution import resources

from kit import make_image, nst_command, tiny_params

# Runs the command and prints the peak RSS of its process (KiB): this launcher is a bare
# interpreter, so RUSAGE_CHILDREN's maximum is the command's own.
PEAK_RSS = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "stderr": done.stderr[-2000:],
                  "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def peak_rss_bytes(args: list) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *nst_command(), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, result["stderr"]
    return result["peak_kib"] * 1024


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_estimate_covers_a_real_run_with_a_margin(tmp_path, optimizer):
    """256 px, L-BFGS history 4 full after 6 iterations: the estimate is above the measured
    peak, by less than 1 GiB. (An absolute margin, not a ratio: at this size the fixed part
    dominates, and how many of torch's library pages are resident moves the measured peak by
    about 200 MiB from one machine state to another.)"""
    content = make_image(tmp_path / "content.png", 256, 256, seed=1)
    style = make_image(tmp_path / "style.png", 256, 256, seed=2)
    params = tiny_params(size=256, iterations=6, optimizer=optimizer, lbfgs_history=4)
    peak = peak_rss_bytes(["run", content, style, "-o", tmp_path / "run", "--quiet",
                           "--params-json", json.dumps(params.identity()), "--device", "cpu", "--threads", "2"])
    estimate = resources.run_memory_bytes(params)
    assert peak < estimate < peak + 2**30, (peak / 2**20, estimate / 2**20)
    assert resources.run_memory_mb(params) * 1e6 >= estimate


def test_lbfgs_history_adds_two_float32_images_per_remembered_step():
    short, long = tiny_params(size=128, iterations=500, lbfgs_history=10), tiny_params(size=128, iterations=500)
    assert resources.run_memory_bytes(long) - resources.run_memory_bytes(short) == 90 * 128 * 128 * 24
    # the history never holds more pairs than there were iterations
    few = tiny_params(size=128, iterations=5)
    assert resources.run_memory_bytes(few) == resources.run_memory_bytes(few.replace(lbfgs_history=5))
    assert resources.run_memory_bytes(long.replace(optimizer="adam")) < resources.run_memory_bytes(short)


def test_estimate_grows_with_pixels_and_cuda_runs_ask_a_fixed_amount():
    small, large = tiny_params(size=256), tiny_params(size=1024)
    assert resources.run_memory_bytes(large) - resources.run_memory_bytes(small) > 15 * 256 * 256 * 4096
    assert resources.run_memory_mb(small, on_cuda=True) == resources.run_memory_mb(large, on_cuda=True)
    assert resources.run_memory_mb(small) % 100 == 0


def test_a_budget_or_forced_tiles_lower_what_a_large_run_declares():
    """mem_mb follows the tiling: a 4096 px run with an 8 GB budget declares at most the budget
    (its own tiled plan), far below its untiled need; without either setting nothing changes."""
    big = tiny_params("gatys", size=4096, iterations=10, lbfgs_history=100)
    untiled = resources.run_memory_bytes(big)
    budgeted = resources.run_memory_bytes(big.replace(max_memory_gb=8))
    assert budgeted <= 8e9 < untiled
    assert resources.run_memory_bytes(big.replace(tile_size=512)) < untiled
    small = tiny_params(size=64)
    assert resources.run_memory_bytes(small.replace(max_memory_gb=8)) <= resources.run_memory_bytes(small)
