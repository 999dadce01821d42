"""How much host memory one `nst run` needs: the workflow's `mem_mb` for each stylize job (and,
at the end, each score job's), so that SLURM requests (`sbatch --mem`) and `snakemake
--resources mem_mb=N` on a workstation are sized from the run instead of guessed. Torch-free: it is called at planning time.

Measured on CPU with `nst run` (glibc malloc as nst sets it, see process.py; BENCHMARKS.md,
benchmark 4): peak RSS grows by 3.8-4.7 KiB per pixel of the optimised image (activations kept
for the backward pass, their gradients, the image and its optimiser state), on top of about
1.0 GiB for the interpreter, torch and the weights (1.2 GiB with Adam, whose `step` imports
torch._dynamo). L-BFGS adds its history: two image-sized float32 vectors per remembered step,
24 bytes per pixel each, so 600 MiB at 512 px with history 100 once the history is full.
"""
from __future__ import annotations

import math

from ..contracts.params import RunParams
from ..run import memory

MIB = 2**20
BASE_BYTES = 1300 * MIB  # interpreter, torch, kornia, 80 MB of weights, Adam's torch._dynamo: measured 1.0-1.2 GiB
PER_PIXEL_BYTES = 5 * 1024  # measured 3.8-4.7 KiB per pixel at 128-512 px
LBFGS_BYTES_PER_PIXEL_AND_STEP = 2 * 3 * 4  # one (s, y) pair of float32 RGB images
CUDA_HOST_BYTES = 2048 * MIB  # a CUDA run keeps its tensors on the GPU; the host holds CUDA's libraries (not measured here)
SNAPSHOT_COPY_MB = 200  # a run written from a longer run's snapshot: no torch, file copies only


def pixels(params: RunParams) -> int:
    """Pixels of the optimised image at most: `size` is the long side, so a square is the upper bound."""
    return params.size * params.size


def run_memory_bytes(params: RunParams, on_cuda: bool = False) -> int:
    """Host memory a run peaks at, at most (the history of L-BFGS full, a square image)."""
    if on_cuda:
        return BASE_BYTES + CUDA_HOST_BYTES
    per_pixel = PER_PIXEL_BYTES
    if params.optimizer == "lbfgs":
        per_pixel += LBFGS_BYTES_PER_PIXEL_AND_STEP * min(params.lbfgs_history, params.iterations)
    untiled = BASE_BYTES + pixels(params) * per_pixel
    if not (params.max_memory_gb or params.tile_size):
        return untiled  # on a host with less memory the run tiles itself (nst/run/memory.py): less, never more
    # a budget or forced tiles: the tiled run's own plan (its largest stage), as the engine makes it
    budget = memory.budget_bytes(params.max_memory_gb) if params.max_memory_gb else 10**15
    return min(untiled, max(stage.peak_bytes for stage in memory.plan_run(params, budget)))


def run_memory_mb(params: RunParams, on_cuda: bool = False) -> int:
    """`run_memory_bytes` in Snakemake's mem_mb (10^6 bytes), rounded up to 100 MB."""
    return 100 * math.ceil(run_memory_bytes(params, on_cuda) / 1e8)


# Peak RSS of `nst score` (gatys, caffe, CPU), measured: 770 MB at 128 px, 875 MB at 256 px,
# 1025 MB at 512 px (importing torch alone: 650 MB); about 1 MB more per 1000 px of the image.
SCORE_BASE_MB, SCORE_MB_PER_KILOPIXEL = 900, 1.2


def score_memory_mb(side: int) -> int:
    """mem_mb of a score job scoring at `side` px (the longest side; a square bounds it): the
    process, the network and one forward pass."""
    return SCORE_BASE_MB + int(SCORE_MB_PER_KILOPIXEL * side * side / 1000)
