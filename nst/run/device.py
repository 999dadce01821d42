"""Choosing the device: CUDA, then Apple MPS, then CPU. With several visible GPUs each process
claims one by an exclusive file lock held until it exits, so parallel jobs on one workstation
spread over the GPUs instead of piling onto GPU 0.

torch is imported inside the functions that need it: the workflow asks `cuda_expected` while
planning, where importing torch would cost seconds."""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NSTError

if TYPE_CHECKING:
    import torch

# The lock files of this process's GPU claims, kept open (and so locked) until it exits;
# closing one gives its GPU up.
held_gpu_locks: list = []


def lock_dir() -> Path:
    return Path(os.environ.get("NST_GPU_LOCK_DIR", tempfile.gettempdir()))


def claim_gpu(count: int, directory: Path | None = None) -> int:
    """Index of a GPU no other process holds; the lock lasts until this process exits."""
    directory = directory or lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        fh = open(directory / f"nst-gpu-{index}.lock", "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        fh.write(str(os.getpid()))
        fh.flush()
        held_gpu_locks.append(fh)
        return index
    raise NSTError(
        f"all {count} visible GPUs are claimed by other nst processes (locks in {directory}); "
        f"run fewer jobs at once, e.g. snakemake --resources gpu={count}"
    )


def cuda_expected(requested: str = "auto") -> bool:
    """Whether runs asking for device `requested` will land on a GPU, guessed without torch:
    cuda or cuda:N, or auto on a host with nvidia-smi (an NVIDIA driver). For what a job
    declares (its `gpu` resource, its memory); pick_device makes the actual choice."""
    return requested.startswith("cuda") or (requested == "auto" and shutil.which("nvidia-smi") is not None)


def pick_device(requested: str = "auto") -> torch.device:
    """Resolve 'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' to a usable torch.device."""
    import torch

    if requested == "cpu":
        return torch.device("cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise NSTError(f"device {requested!r} asked for, but CUDA is not available here")
        if ":" in requested:
            return torch.device(requested)
        return _claimed_cuda()
    if requested == "mps":
        if not _mps_available():
            raise NSTError("device 'mps' asked for, but Apple MPS is not available here")
        return torch.device("mps")
    if torch.cuda.is_available():
        return _claimed_cuda()
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _claimed_cuda() -> torch.device:
    import torch

    count = torch.cuda.device_count()
    if count <= 1:  # one visible GPU (a SLURM allocation, CUDA_VISIBLE_DEVICES): just use it
        return torch.device("cuda:0")
    index = claim_gpu(count)
    return torch.device(f"cuda:{index}")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
