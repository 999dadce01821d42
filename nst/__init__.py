"""Gatys-style neural style transfer, one run at a time (`stylize`), for sweeps driven by the
Snakemake workflow in this repository. Never imports snakemake."""
__version__ = "0.1.0"

from .contracts.params import RunParams  # noqa: E402
from .contracts.presets import PRESETS, preset  # noqa: E402

__all__ = ["RunParams", "PRESETS", "preset", "__version__"]
