"""The VGG-19 feature extractor and its weights.

torchvision's `vgg19` feature stack (classifier never built; see vgg19_feature_layers), max-pool swapped for
average-pool unless asked otherwise, ImageNet normalisation inside, truncated after the
deepest layer a run needs, parameters frozen.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from torch import nn

from .errors import WeightsError
from .files import atomic_path, write_text
from .layers import LAYER_INDEX, LAYER_ORDER, deepest_index, normalize_layer

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's VGG19_Weights.IMAGENET1K_V1: file name and the hash prefix it publishes.
IMAGENET_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
IMAGENET_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_HASH_PREFIX = "dcbb9e9d"
FEATURES_FILE = "vgg19-dcbb9e9d-features.pth"
RANDOM_WEIGHTS_SEED = 0


class FeatureExtractor(nn.Module):
    """Returns {layer name: activation} for the requested layers of VGG-19's features."""

    def __init__(self, layers: list[nn.Module], wanted: set[str]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.names = LAYER_ORDER[: len(layers)]
        self.wanted = set(wanted)
        self.channels_last = False  # NHWC activations: faster convolutions on recent GPUs

    def forward(self, image: torch.Tensor, layers: set[str] | None = None) -> dict[str, torch.Tensor]:
        wanted = self.wanted if layers is None else layers
        deepest = max(LAYER_INDEX[n] for n in wanted)
        x = (image - self.mean) / self.std
        if self.channels_last:  # only the network's copy: the optimised image keeps its layout
            x = x.contiguous(memory_format=torch.channels_last)
        out = {}
        for i, (name, module) in enumerate(zip(self.names, self.body)):
            if i > deepest:
                break
            x = module(x)
            if name in wanted:
                out[name] = x
        return out


# torchvision's VGG-19 configuration "E": output channels of each 3x3 conv, "M" a 2x2 pool.
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                512, 512, 512, 512, "M")


def vgg19_feature_layers(pooling: str = "avg", depth: int | None = None) -> list[nn.Module]:
    """The layers of torchvision's `vgg19().features`, same order and shapes (so its state-dict
    keys `features.N.*` load as they are), ReLUs not in-place (conv outputs are read). Built
    here rather than with torchvision.models.vgg.make_layers: importing torchvision adds about
    a second to every job's start-up (tests check the stack matches torchvision's)."""
    modules: list[nn.Module] = []
    channels = 3
    for item in VGG19_CONFIG:
        if item == "M":
            modules.append(nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2))
        else:
            modules += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = item
        if depth is not None and len(modules) >= depth:
            break
    return modules[: depth if depth is not None else len(modules)]


def load_weights(weights: str, weights_file: str | None = None):
    """(state dict or None for random weights, record of where the weights came from)."""
    if weights == "random":
        return None, {"source": "random", "random": True, "seed": RANDOM_WEIGHTS_SEED}
    path = resolve_imagenet_file(weights_file) if weights == "imagenet" else Path(weights)
    return read_state_dict(path), {"source": weights, "random": False, "file": str(path)}


def make_extractor(layers, pooling: str, state: dict | None) -> FeatureExtractor:
    """Frozen extractor for `layers`, cut after the deepest; `state` None = seeded random."""
    wanted = {normalize_layer(n) for n in layers}
    modules = vgg19_feature_layers(pooling, depth=deepest_index(wanted) + 1)
    extractor = FeatureExtractor(modules, wanted)
    if state is None:
        init_random(extractor.body, RANDOM_WEIGHTS_SEED)
    else:
        load_into(extractor.body, state)
    extractor.requires_grad_(False)
    return extractor.eval()


def init_random(body: nn.Sequential, seed: int) -> None:
    """Seeded He init (fan_in, so activations keep their scale through the stack): for tests
    and offline smoke runs only."""
    gen = torch.Generator().manual_seed(seed)
    for module in body:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu", generator=gen)
            nn.init.zeros_(module.bias)


# --- weight files ------------------------------------------------------------------------
def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def missing_weights_message() -> str:
    where = hub_checkpoint_dir()
    return (
        f"ImageNet VGG-19 weights not found and could not be downloaded. Put {IMAGENET_FILE} "
        f"(torchvision's VGG19_Weights.IMAGENET1K_V1, {IMAGENET_URL}) in {where}/, or name it "
        f"with weights_file in the config / --set weights_file=PATH. On a machine with internet, "
        f"`nst weights fetch` downloads it there (and writes the smaller features-only "
        f"{FEATURES_FILE}); or use weights=random for an offline smoke run."
    )


def resolve_imagenet_file(weights_file: str | None = None, download: bool | None = None) -> Path:
    """The ImageNet weights file to load: a named file, else the hub cache, else a download."""
    if weights_file:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights_file {str(path)!r} does not exist. {missing_weights_message()}")
        verify_file(path)
        return path
    for name in (FEATURES_FILE, IMAGENET_FILE):
        path = hub_checkpoint_dir() / name
        if path.is_file():
            verify_file(path)
            return path
    if download is None:
        download = os.environ.get("NST_OFFLINE", "") in ("", "0")
    if download:
        return fetch_imagenet()
    raise WeightsError(missing_weights_message())


def fetch_imagenet() -> Path:
    """Download torchvision's file into the hub cache (hash-checked by torch.hub)."""
    dest = hub_checkpoint_dir() / IMAGENET_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(IMAGENET_URL, str(dest), hash_prefix=IMAGENET_HASH_PREFIX, progress=False)
    except Exception as err:  # no network, proxy, HTTP error, truncated file, ...
        raise WeightsError(f"{missing_weights_message()} (download failed: {err})") from None
    return dest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def verify_file(path: Path, force: bool = False) -> str:
    """Check an ImageNet weights file; returns its sha256. A verified file is remembered
    (size + mtime in a sidecar) so jobs do not re-hash 548 MB each time."""
    path = Path(path)
    side = _sidecar(path)
    meta = json.loads(side.read_text()) if side.is_file() else {}
    stat = path.stat()
    stamp = [stat.st_size, stat.st_mtime_ns]
    if not force and meta.get("verified") == stamp and meta.get("sha256"):
        return meta["sha256"]
    digest = sha256_of(path)
    derived = meta.get("features_of", "")
    if digest.startswith(IMAGENET_HASH_PREFIX):
        pass
    elif derived.startswith(IMAGENET_HASH_PREFIX) and meta.get("sha256") == digest:
        pass  # a features-only copy written by `nst weights fetch`
    else:
        raise WeightsError(
            f"{path} is not torchvision's VGG19_Weights.IMAGENET1K_V1: its sha256 {digest[:12]}... "
            f"does not start with {IMAGENET_HASH_PREFIX}. Delete it and run `nst weights fetch`, or "
            f"name a custom state dict with weights=PATH instead of weights=imagenet."
        )
    _write_sidecar(side, {**meta, "sha256": digest, "verified": stamp})
    return digest


def _write_sidecar(side: Path, meta: dict) -> None:
    try:
        write_text(side, json.dumps(meta))
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def write_features_only(source: Path, dest: Path | None = None) -> Path:
    """Save the `features.*` tensors of a full VGG-19 file (tens of MB instead of 548)."""
    source_sha = verify_file(source)
    dest = dest or source.with_name(FEATURES_FILE)
    state = {k: v for k, v in read_state_dict(source).items() if k.startswith("features.")}
    with atomic_path(dest) as tmp:
        torch.save(state, tmp)
    stat = dest.stat()
    _write_sidecar(_sidecar(dest), {
        "sha256": sha256_of(dest), "features_of": source_sha,
        "verified": [stat.st_size, stat.st_mtime_ns],
    })
    return dest


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True: a file holding pickled objects is refused."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(
            f"cannot load weights file {str(path)!r} as a plain state dict "
            f"(weights_only=True refuses pickled objects): {str(err).splitlines()[0]}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"weights file {str(path)!r} is not a state dict of tensors")
    return state


def load_into(body: nn.Sequential, state: dict[str, torch.Tensor]) -> None:
    """Copy torchvision-keyed (`features.N.weight`) tensors into the truncated stack."""
    for index, module in enumerate(body):
        if not isinstance(module, nn.Conv2d):
            continue
        for attr in ("weight", "bias"):
            key = f"features.{index}.{attr}"
            if key not in state:
                raise WeightsError(f"weights file has no {key!r} (expected torchvision's vgg19 key names)")
            target = getattr(module, attr)
            if state[key].shape != target.shape:
                raise WeightsError(
                    f"weights file: {key!r} has shape {tuple(state[key].shape)}, "
                    f"VGG-19 needs {tuple(target.shape)}"
                )
            with torch.no_grad():
                target.copy_(state[key])
