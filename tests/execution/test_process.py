"""nst/execution/process.py: the allocator setting and the skipped torch._dynamo import of nst's own
processes. Each check runs in a fresh interpreter, because both change the whole process."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from nst.execution import process

GLIBC = platform.libc_ver()[0] == "glibc"


def python(code: str, *args: str, **env: str) -> dict:
    """Run `code` with `args` in a fresh interpreter (the user's malloc variables removed, `env`
    added); it prints one JSON object as its last line."""
    clean = {k: v for k, v in os.environ.items() if k not in process.USER_MALLOC_SETTINGS + (process.OPT_OUT,)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**clean, **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# Allocates, touches and frees a 64 MiB block (one 512 px activation) five times; minor page
# faults of the last four rounds: the kernel had to hand out zeroed pages again.
REFAULTS = """
import ctypes, json, resource, sys
from nst.execution import process
applied = process.keep_freed_memory() if sys.argv[-1] == 'keep' else False
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 64 << 20
faults = []
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "refaults": sum(faults[1:])}))
"""


def refaults(mode: str, **env: str) -> dict:
    return python(REFAULTS, mode, **env)


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are glibc's (Linux); elsewhere keep_freed_memory does nothing")
def test_freed_memory_is_reused_instead_of_faulted_back():
    default, kept = refaults("default"), refaults("keep")
    pages = 4 * (64 << 20) // 4096
    assert not default["applied"] and default["refaults"] > pages // 2  # glibc unmaps and remaps it
    assert kept["applied"] and kept["refaults"] < pages // 100  # the same pages are used again


@pytest.mark.parametrize("env", [{process.OPT_OUT: "1"}, {"MALLOC_MMAP_THRESHOLD_": "65536"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}])
def test_user_malloc_settings_are_left_alone(env):
    result = refaults("keep", **env)
    assert not result["applied"]
    if GLIBC:
        assert result["refaults"] > 4 * (64 << 20) // 4096 // 2


JOB = """
import json, sys
from nst.cli import main
rc = main(["run", {content!r}, {style!r}, "-o", {out!r}, "--set", "weights=random", "--image-size", "32",
           "--num-iterations", "3", "--device", "cpu", "--quiet"])
print(json.dumps({{"rc": rc, "dynamo": "torch._dynamo" in sys.modules}}))
"""


def test_an_lbfgs_job_never_imports_torch_dynamo(tmp_path, content_path, style_path):
    """(Adam, Adagrad and SGD import it in their own `step`, which nst does not touch.)"""
    out = tmp_path / "run"
    result = python(JOB.format(content=str(content_path), style=str(style_path), out=str(out)))
    assert result == {"rc": 0, "dynamo": False}
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 3
    assert json.loads((out / "run.json").read_text())["status"] == "ok"


def test_optimizers_still_step_without_dynamo():
    result = python("""
import json, sys, torch
from nst.execution import process
changed = process.skip_dynamo_import()
x = torch.ones(3, requires_grad=True)
opt = torch.optim.LBFGS([x], lr=1, max_iter=1)
def closure():
    opt.zero_grad()
    loss = ((x - 3) ** 2).sum()
    loss.backward()
    return loss
for _ in range(5):
    opt.step(closure)
print(json.dumps({"changed": changed, "x": x.tolist(), "dynamo": "torch._dynamo" in sys.modules,
                  "again": process.skip_dynamo_import()}))
""")
    assert result["changed"], "torch.optim no longer wraps its methods the way nst/execution/process.py expects"
    assert result["x"] == pytest.approx([3.0] * 3)  # L-BFGS reaches the minimum of the quadratic
    assert not result["dynamo"] and result["again"] == []
