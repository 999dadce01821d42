"""What content hashes cost at planning (nst/hashes.py): a study's images and a weights file.

    python benchmarks/hashing.py OUT [--images 300] [--side 1200] [--weights-mb 548]

Writes OUT/images/ (noise JPEGs, about 1 MB each at 1200 x 900, the size of a phone photo
saved for the web) and OUT/weights.pth (random bytes, the size of torchvision's VGG-19 file),
then times, each in a fresh process (so only the cache folder remembers): hashing everything
with an empty cache (every byte read), and again with the cache filled (a stat and a small JSON
read per file). Also the sha256 of the same bytes read straight (hashlib, no cache) and a
`stat` of each file, for scale. Prints a markdown table and writes OUT/hashing.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, os, sys, time
from pathlib import Path
from nst import hashes
paths = [Path(p) for p in json.loads(sys.argv[1])]
started = time.perf_counter()
if sys.argv[2] == "stat":
    for p in paths:
        os.stat(p)
elif sys.argv[2] == "plain":
    for p in paths:
        hashes.sha256_file(p)
else:
    for p in paths:
        hashes.content_sha256(p)
print(time.perf_counter() - started)
"""


def make_files(out: Path, count: int, side: int, weights_mb: int) -> tuple[list[Path], Path]:
    folder = out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        path = folder / f"image{i:04d}.jpg"
        if not path.is_file():
            pixels = (rng.random((side * 3 // 4, side, 3)) * 255).astype("uint8")
            Image.fromarray(pixels).save(path, quality=90)
        images.append(path)
    weights = out / "weights.pth"
    if not weights.is_file() or weights.stat().st_size != weights_mb << 20:
        with open(weights, "wb") as fh:
            for _ in range(weights_mb):
                fh.write(os.urandom(1 << 20))
    # the hashes' cache trusts only a hash taken seconds after the file's last change
    time.sleep(4)
    return images, weights


def timed(paths: list[Path], mode: str, cache: Path) -> float:
    env = {**os.environ, "NST_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps([str(p) for p in paths]), mode],
                         env=env, capture_output=True, text=True, check=True).stdout
    return float(out)


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--side", type=int, default=1200)
    parser.add_argument("--weights-mb", type=int, default=548)
    args = parser.parse_args()
    out = Path(args.out)
    images, weights = make_files(out, args.images, args.side, args.weights_mb)
    image_mb = sum(p.stat().st_size for p in images) / 2**20
    rows = {}
    for name, paths in ((f"{len(images)} images ({image_mb:.0f} MB)", images),
                        (f"weights file ({weights.stat().st_size / 2**20:.0f} MB)", [weights])):
        cache = out / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        rows[name] = {"stat only": timed(paths, "stat", cache), "sha256, no cache": timed(paths, "plain", cache),
                      "content_sha256, empty cache": timed(paths, "cached", cache),
                      "content_sha256, cache filled": timed(paths, "cached", cache)}
    columns = list(next(iter(rows.values())))
    print("| files | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(seconds(row[c]) for c in columns) + " |")
    (out / "hashing.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
