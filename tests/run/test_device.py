"""Device choice and the per-process GPU claim."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import nst.run.device as device
from nst.run.device import claim_gpu, pick_device
from nst.errors import NSTError

from kit import ROOT

HOLDER = """
import sys
from pathlib import Path
from nst.run.device import claim_gpu
print(claim_gpu(int(sys.argv[1]), Path(sys.argv[2])), flush=True)
sys.stdin.read()  # hold the claim until the test closes our stdin
"""


@pytest.fixture
def own_locks(monkeypatch):
    """Claims made in this process, released at the end of the test."""
    held = []
    monkeypatch.setattr(device, "held_gpu_locks", held)
    yield held
    for fh in held:
        fh.close()


def test_a_second_process_gets_the_next_gpu_and_none_when_all_are_claimed(tmp_path, own_locks):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, "2", str(tmp_path)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        assert claim_gpu(2, tmp_path) == 1              # 0 is held by the other process
        with pytest.raises(NSTError, match="all 2 visible GPUs are claimed"):
            claim_gpu(2, tmp_path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    # the claim lasted exactly as long as the holding process
    assert claim_gpu(2, tmp_path) == 0


def test_claims_within_one_process_do_not_collide(tmp_path, own_locks):
    assert [claim_gpu(3, tmp_path) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(NSTError):
        claim_gpu(3, tmp_path)
    own_locks.pop(1).close()                            # GPU 1 released
    assert claim_gpu(3, tmp_path) == 1


def test_lock_directory_comes_from_the_environment(tmp_path, monkeypatch, own_locks):
    monkeypatch.setenv("NST_GPU_LOCK_DIR", str(tmp_path / "locks"))
    assert claim_gpu(1) == 0
    assert (tmp_path / "locks" / "nst-gpu-0.lock").is_file()


def test_cpu_is_cpu():
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here: asking for it would succeed")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_a_clear_error(name):
    with pytest.raises(NSTError, match="CUDA is not available"):
        pick_device(name)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="Apple MPS is available here")
def test_mps_without_mps_is_a_clear_error():
    with pytest.raises(NSTError, match="MPS is not available"):
        pick_device("mps")


@pytest.mark.skipif(torch.cuda.is_available() or torch.backends.mps.is_available(),
                    reason="an accelerator is available: auto would pick it")
def test_auto_falls_back_to_cpu():
    assert pick_device("auto") == torch.device("cpu")


@pytest.fixture
def path_with(tmp_path, monkeypatch):
    """PATH set to one folder, with or without an `nvidia-smi` in it."""
    def use(nvidia_smi: bool):
        folder = tmp_path / ("with" if nvidia_smi else "without")
        folder.mkdir()
        if nvidia_smi:
            (folder / "nvidia-smi").write_text("#!/bin/sh\n")
            (folder / "nvidia-smi").chmod(0o755)
        monkeypatch.setenv("PATH", str(folder))
    return use


@pytest.mark.parametrize("requested, with_driver, without_driver", [
    ("auto", True, False), ("cuda", True, True), ("cuda:1", True, True), ("cpu", False, False), ("mps", False, False),
])
def test_cuda_is_expected_for_cuda_and_for_auto_on_a_host_with_nvidia_smi(path_with, requested, with_driver,
                                                                          without_driver):
    path_with(nvidia_smi=True)
    assert device.cuda_expected(requested) is with_driver
    path_with(nvidia_smi=False)
    assert device.cuda_expected(requested) is without_driver


def test_guessing_the_device_imports_no_torch():
    """The workflow guesses while planning, where importing torch would cost seconds."""
    code = "import sys, nst.run.device as d; d.cuda_expected('auto'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
