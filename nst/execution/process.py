"""Settings for a process that nst owns (`nst run`, `nst runner`), made before its first
optimisation. Library users who call `nst.run.engine.stylize` in their own process are left alone;
they may call these themselves. Measurements: BENCHMARKS.md, benchmarks 1 and 2.

- `keep_freed_memory`: each iteration allocates and frees activations of many MiB. glibc serves
  blocks above its mmap threshold (dynamic, up to 32 MiB) with fresh mmaps and trims the top of
  its heap, so every iteration returns memory to the kernel and faults it back in, zeroed, 4 KiB
  at a time (up to 1.4 GB per iteration at 512 px). Keeping freed memory in the process removes
  the faults; a job is short, so holding its peak until exit costs little.
- `skip_dynamo_import`: torch.optim wraps `Optimizer.add_param_group`, `zero_grad`, ... in
  `torch._disable_dynamo`, which imports torch._dynamo (about a second and 150 MiB) on first
  call only to mark them "do not compile". An nst job compiles nothing, so the mark is not
  needed. This spares L-BFGS jobs (the paper's optimizer) the import; Adam, Adagrad and SGD
  import torch._dynamo in their own `step` anyway.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
KEEP_BELOW = 1 << 30  # blocks up to 1 GiB come from (and go back to) the heap, never the kernel
OPT_OUT = "NST_SYSTEM_MALLOC"  # set to 1 to keep glibc's defaults
# what a user may already have tuned; nst then does not override it
USER_MALLOC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process. True when applied; False off
    Linux/glibc, with NST_SYSTEM_MALLOC=1, or when the environment already tunes malloc (or
    preloads another allocator such as jemalloc). Call it before torch allocates: blocks already
    mapped keep their mapping."""
    if os.environ.get(OPT_OUT, "") not in ("", "0") or any(os.environ.get(k) for k in USER_MALLOC_SETTINGS):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl has no mallopt effect)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BELOW)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BELOW))


# the torch.optim.Optimizer methods that import torch._dynamo on their first call (torch 2.x)
DYNAMO_WRAPPED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def skip_dynamo_import() -> list[str]:
    """Give torch.optim's `_disable_dynamo` wrappers their cached "disabled" function up front
    (the function itself), so optimizers never import torch._dynamo. Returns the methods changed;
    [] where torch's private layout differs, and optimizers then work as usual. Imports torch.
    Not for a process that compiles optimizer steps with torch.compile."""
    from torch.optim import Optimizer

    changed = []
    for name in DYNAMO_WRAPPED:
        fn = getattr(getattr(Optimizer, name, None), "__wrapped__", None)
        if fn is not None and getattr(fn, "__dynamo_disable", None) is None:
            fn.__dynamo_disable = fn
            changed.append(name)
    return changed
