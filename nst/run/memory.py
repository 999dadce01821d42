"""How much memory one run needs, and what a memory budget makes of it: untiled when the run
fits, else tiles (nst/run/tiling.py) as large as fit, and only when even that leaves too
little, a shorter L-BFGS history. Torch-free: the workflow's `mem_mb` (execution/resources.py)
and the engine ask the same model.

The model, per stage of a run (one image size), in bytes:
- BASE_BYTES: the interpreter, torch, kornia and the network's weights;
- whole-image tensors, IMAGE_COPIES float32 RGB copies (the image and its gradient, the start,
  the content, the last good image, the tiles' gradient, L-BFGS's direction and gradients, ...),
  two more for Adam's moments, and the style images;
- the content targets (every content layer's map of the content image);
- the network's working set: ACTIVATION_FACTOR x the floats a forward and backward keeps
  (tiling.activation_floats: every ReLU's and pool's output, wanted conv outputs, the widest
  gradients) for the whole image or, tiled, the largest tile;
- L-BFGS's history: one (s, y) pair of float32 images per remembered step.
The constants are fitted to peak RSS measured on CPU (BENCHMARKS.md, "High resolution").
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..contracts.layers import LAYER_CHANNELS, LAYER_INDEX, normalize_layer
from ..errors import ParamsError
from .tiling import activation_floats, level_sizes, plan_tiles, receptive_field

MIB = 2**20
BASE_BYTES = 1300 * MIB
PIXEL_BYTES = 3 * 4                 # one float32 RGB pixel
IMAGE_COPIES = 12
ADAM_COPIES = 2
ACTIVATION_FACTOR = 2.5             # measured peak / counted floats of the network (allocator slack included)
LBFGS_STEP_BYTES = 2 * PIXEL_BYTES  # per pixel and remembered step
DEFAULT_SHARE = 0.8                 # of the memory this process may use, when max_memory_gb is not set
CUDA_SHARE = 0.9                    # of the GPU's free memory
HISTORY_SHARE = 0.5                 # when the full history does not fit next to a tile: at most this share is the tile's


@dataclass(frozen=True)
class StageMemory:
    """One stage's plan: `tile` px inner tiles (0: untiled), the L-BFGS history it keeps
    (None: not L-BFGS) and the estimated peak."""
    height: int
    width: int
    tile: int
    lbfgs_history: int | None
    peak_bytes: int

    def record(self) -> dict:
        """What run.json keeps of it (`memory`)."""
        return {"size": [self.width, self.height], "tile": self.tile, "lbfgs_history": self.lbfgs_history,
                "estimated_peak_mb": math.ceil(self.peak_bytes / 1e6)}


def available_bytes() -> int:
    """Memory this process may still use: the kernel's MemAvailable, within a cgroup's limit
    (a SLURM job's --mem, a container's) less what the cgroup already uses."""
    available = _meminfo("MemAvailable")
    limit, used = _cgroup()
    if limit is not None:
        available = min(available, max(limit - used, 0)) if available else max(limit - used, 0)
    return available or (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2


def _meminfo(key: str) -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cgroup() -> tuple[int | None, int]:
    """(limit, usage) of this process's memory cgroup (v2, else v1); (None, 0) without one."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                text = f.read().strip()
            with open(usage_file) as f:
                used = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if text.isdigit() and int(text) < 2**60:  # v1 writes a huge number for "no limit"
            return int(text), used
        return None, 0
    return None, 0


def budget_bytes(max_memory_gb: float, cuda_free_bytes: int | None = None) -> int:
    """The budget a run plans with: max_memory_gb (10^9 bytes) when set, else DEFAULT_SHARE of
    the memory this process may use (CUDA_SHARE of the GPU's free memory for a GPU run)."""
    if max_memory_gb > 0:
        return int(max_memory_gb * 1e9)
    if cuda_free_bytes is not None:
        return int(CUDA_SHARE * cuda_free_bytes)
    return int(DEFAULT_SHARE * available_bytes())


def _layers(params) -> tuple[str, ...]:
    return tuple(sorted({normalize_layer(n) for n in params.content_layers + params.style_layers},
                        key=LAYER_INDEX.__getitem__))


def fixed_bytes(params, height: int, width: int, styles: list[tuple[int, int]]) -> int:
    """What a stage holds whatever its tiling: BASE_BYTES, whole-image tensors, style images,
    content targets."""
    pixels = height * width
    copies = IMAGE_COPIES + (ADAM_COPIES if params.optimizer == "adam" else 0)
    targets = 0
    for n in params.content_layers:
        i = LAYER_INDEX[normalize_layer(n)]
        targets += 4 * LAYER_CHANNELS[normalize_layer(n)] * level_sizes(height, i)[i] * level_sizes(width, i)[i]
    return BASE_BYTES + PIXEL_BYTES * (copies * pixels + 2 * sum(h * w for h, w in styles)) + targets


def network_bytes(params, height: int, width: int, tile: int, styles: list[tuple[int, int]] = ()) -> int:
    """The network's working set with `tile` px tiles (0: untiled): the largest of the image's
    forward and backward and each style image's forward."""
    layers = _layers(params)
    sizes = [(height, width), *styles]
    if tile <= 0:
        return int(ACTIVATION_FACTOR * 4 * max(activation_floats(None, h, w, layers) for h, w in sizes))
    return int(ACTIVATION_FACTOR * 4 * max(activation_floats(plan_tiles(h, w, tile, layers), h, w, layers)
                                           for h, w in sizes))


def history_bytes(height: int, width: int, steps: int) -> int:
    return LBFGS_STEP_BYTES * height * width * steps


def plan_stage(params, height: int, width: int, iterations: int, budget: int,
               styles: list[tuple[int, int]] = ()) -> StageMemory:
    """The tiling and L-BFGS history of one stage (`iterations` at height x width) within
    `budget` bytes: params.tile_size when set (at least the image: untiled), else untiled when
    it fits, else the largest tiles that fit with the full history, else tiles of at most
    HISTORY_SHARE of what is left and the history that fits beside them. ParamsError when
    not even one remembered step (or, for other optimizers, the smallest tile) fits."""
    lbfgs = params.optimizer == "lbfgs"
    full = min(params.lbfgs_history, iterations) if lbfgs else 0
    fixed = fixed_bytes(params, height, width, list(styles))

    def peak(tile: int, steps: int) -> int:
        return fixed + network_bytes(params, height, width, tile, list(styles)) + history_bytes(height, width, steps)

    def result(tile: int, steps: int) -> StageMemory:
        # the optimizer keeps lbfgs_history unless the budget says less (a stage's own
        # iterations bound only the estimate: a continued run keeps the same optimizer)
        kept = (params.lbfgs_history if steps >= full else steps) if lbfgs else None
        return StageMemory(height, width, tile, kept, peak(tile, steps))

    if params.tile_size >= max(height, width) or (params.tile_size == 0 and peak(0, full) <= budget):
        return result(0, full)
    stride = receptive_field(_layers(params)[-1]).stride
    tiles = [params.tile_size] if params.tile_size else \
        _distinct_plans(range(max(height, width) // stride * stride, 0, -stride), height, width, styles)
    for tile in tiles:
        if peak(tile, full) <= budget:
            return result(tile, full)
    for tile in tiles:  # the full history does not fit beside any tile: share what is left
        net = network_bytes(params, height, width, tile, list(styles))
        if params.tile_size or net <= HISTORY_SHARE * (budget - fixed):
            steps = min(full, (budget - fixed - net) // history_bytes(height, width, 1)) if lbfgs else 0
            if (steps >= 1 or not lbfgs) and fixed + net <= budget:
                return result(tile, steps)
    raise budget_error(height, width, budget, peak(stride, 1 if lbfgs else 0))


def _distinct_plans(tiles, height: int, width: int, styles) -> list[int]:
    """The largest tile of each distinct plan: a plan depends only on the tile count per axis
    (tiling.splits), of the image and of each style image."""
    sides = (height, width, *(side for hw in styles for side in hw))
    seen, out = set(), []
    for tile in tiles:
        key = tuple(math.ceil(side / tile) for side in sides)
        if key not in seen:
            seen.add(key)
            out.append(tile)
    return out


def budget_error(height: int, width: int, budget: int, needed: int) -> ParamsError:
    return ParamsError(f"a memory budget of {budget / 1e9:.3g} GB (max_memory_gb; default: {DEFAULT_SHARE:.0%} of "
                       f"the memory available) is too little for a {width}x{height} px stage, which needs at "
                       f"least {math.ceil(needed / 1e8) / 10:.1f} GB with the smallest tiles: set max_memory_gb "
                       f"higher (execution.max_memory_gb, --set max_memory_gb=N) or use a smaller size")


def plan_run(params, budget: int, sizes: list[tuple[int, int]] | None = None) -> list[StageMemory]:
    """Every stage's plan: sizes (height, width) per stage, default squares of the stage sizes
    (the largest a resize mode gives); the style images at the run's style size, square."""
    stages = params.stages
    sizes = sizes or [(size, size) for size, _ in stages]
    blend = len(params.style_blend_weights or (1,))
    out = []
    for (size, iterations), (height, width) in zip(stages, sizes):
        side = params.style_size(size)
        out.append(plan_stage(params, height, width, iterations, budget, [(side, side)] * blend))
    return out


def scoring_tile(layers, height: int, width: int, budget: int) -> int:
    """The tile side for scoring a height x width image on `layers` (no gradients; estimated as
    network_bytes estimates a forward and backward, which bounds it): 0 when one pass fits."""
    layers = sorted({normalize_layer(n) for n in layers}, key=LAYER_INDEX.__getitem__)
    room = budget - BASE_BYTES - PIXEL_BYTES * IMAGE_COPIES * height * width

    def fits(plan) -> bool:
        return ACTIVATION_FACTOR * 4 * activation_floats(plan, height, width, layers) <= room

    if fits(None):
        return 0
    stride = receptive_field(layers[-1]).stride
    for tile in range(max(height, width) // stride * stride, stride, -stride):
        if fits(plan_tiles(height, width, tile, layers)):
            return tile
    return stride
