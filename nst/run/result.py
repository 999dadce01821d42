"""What one run produced (RunResult) and the record of it that run.json holds; nst/run/engine.py
makes it, nst/contracts/run_folder.py writes it."""
from __future__ import annotations

import platform
from dataclasses import dataclass, field

import torch

from .. import __version__
from ..contracts.params import RunParams
from .images import ImageInfo


@dataclass
class RunResult:
    """The outcome of one run, in memory (images as CPU tensors); `record()` is its run.json."""

    params: RunParams
    image: torch.Tensor                    # final image, 1x3xHxW in [0, 1], on the CPU
    history: list[dict]                    # one row per iteration
    snapshots: dict[int, torch.Tensor]     # iteration -> image after that many updates
    snapshot_scores: dict[int, dict]       # iteration -> {"final": ..., "evaluation": ...}
    status: str                            # "ok" | "diverged"
    diverged_at: int | None
    final: dict[str, float]                # the run's own losses of the final image
    evaluation: dict[str, float]           # the fixed reference evaluation
    content: ImageInfo
    style: ImageInfo
    weights: dict
    device: str
    timing: dict[str, float] = field(default_factory=dict)
    diverged_reason: str | None = None     # the rule that made it diverged (blow_up_reason)
    resumed_from: list[int] = field(default_factory=list)  # iterations it was continued from
    styles: list[ImageInfo] = field(default_factory=list)  # every style image of a blend
    continued_from: str | None = None      # the shorter run (run id) whose last state it continued
    stalled_at: int | None = None          # the iteration its loss stopped changing from (nst/run/stall.py)
    init_image: ImageInfo | None = None    # the init image file (init: PATH)
    memory: list[dict] = field(default_factory=list)  # per stage: tiling and L-BFGS history (memory.StageMemory)

    def outcome(self) -> str:
        """"ok", "ok, stalled at <k> (...)" or "diverged (<the rule that fired>)": what one line
        about the run says."""
        if self.status != "ok":
            return f"diverged ({self.diverged_reason})"
        if self.stalled_at is not None:
            return (f"ok, stalled at iteration {self.stalled_at} (its loss stopped changing: "
                    f"the last {len(self.history) - self.stalled_at} iterations gained nothing)")
        return "ok"

    def record(self) -> dict:
        """Everything run.json holds (`resumed_from` only for a run continued from a checkpoint).
        Every image it was made from is listed with its content hash (`sha256`): content, style
        (`styles` for a blend), `init_image` for an init file (outputs.made_from reads them)."""
        record = {
            "run_id": self.params.run_id,
            "status": self.status,
            "diverged_at": self.diverged_at,
            "diverged_reason": self.diverged_reason,
            "stalled_at": self.stalled_at,
            "iterations_done": len(self.history),
            "params": self.params.to_dict(),
            "final": self.final,
            "evaluation": self.evaluation,
            "content": self.content.to_dict(),
            "style": self.style.to_dict(),
            "weights": self.weights,
            "random_weights": bool(self.weights.get("random")),
            "device": self.device,
            "timing": self.timing,
            "versions": library_versions(),
        }
        if any(stage["tile"] for stage in self.memory) or any(
                stage["lbfgs_history"] not in (None, self.params.lbfgs_history) for stage in self.memory):
            record["memory"] = self.memory  # only where the budget changed how the run was computed
        if self.resumed_from:
            record["resumed_from"] = self.resumed_from
        if self.continued_from:
            record["continued_from"] = self.continued_from
        if len(self.styles) > 1:  # a blend: `style` is its first image
            record["styles"] = [info.to_dict() for info in self.styles]
        if self.init_image is not None:
            record["init_image"] = self.init_image.to_dict()
        return record


def library_versions() -> dict[str, str]:
    """Versions from package metadata: importing torchvision just to ask would cost a second."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {"nst": __version__, "python": platform.python_version(), "torch": torch.__version__,
            **{name: installed(name) for name in ("torchvision", "kornia", "pillow")}}
