"""What jobs would otherwise find out too late: checked at planning, naming the experiment and
the file (a missing init image; an image too small for the deepest layer after resizing, at a
multi-scale run's first size and at the style scale). Reads image headers only, no torch."""
from __future__ import annotations

from pathlib import Path

from ...contracts.evaluators import PAPER, evaluation_layers
from ...contracts.image_files import image_header, target_size
from ...contracts.layers import LAYER_INDEX, min_side, standard_name
from ...contracts.params import INITS
from ...contracts.plan import Plan
from ...errors import NSTError, PlanError


def check_job_inputs(plan: Plan, root: Path) -> None:
    """Stop at planning, naming the experiment and file, for what would otherwise fail inside
    a job after the workflow started: a missing `init` image, or an image too small for the
    deepest layer after resizing (`resize: keep_aspect` makes the short side shrink)."""
    headers: dict[str, tuple[int, int]] = {}
    # every run is also scored, in its job (run.json's `paper` evaluation) and by each evaluator
    scored_layers = evaluation_layers([PAPER] + plan.evaluation)

    def header(path: str) -> tuple[int, int]:
        if path not in headers:
            headers[path] = image_header(path)
        return headers[path]

    seen = set()
    for trial in plan.trials:
        params = plan.runs[f"{trial.content}/{trial.style}/{trial.run_id}"].params
        layers = params.content_layers + params.style_layers + scored_layers
        key = (trial.content, trial.style, params.size, params.resize, layers, params.init, params.scales,
               params.style_scale)
        if key in seen:
            continue
        seen.add(key)
        where = f"experiment {trial.experiment!r} ({trial.label})"
        if params.init not in INITS:
            try:
                header(str(root / params.init))
            except NSTError as err:
                raise PlanError(f"{where}: init: {err}") from None
        need = min_side(layers)
        smallest = min((params.scales or ()) + (params.size,))  # a multi-scale run's first stage
        sized = [(plan.content_images[trial.content], smallest)]
        sized += [(path, params.style_size(smallest)) for path in plan.style_inputs(trial.style)]
        for path, size in sized:
            width, height = target_size(*header(path), size, params.resize)
            if min(width, height) < need:
                deepest = max(layers, key=LAYER_INDEX.__getitem__)
                raise PlanError(
                    f"{where}: image {path!r} is {width}x{height} px after resizing (size={size}, "
                    f"resize={params.resize}), too small for layer {standard_name(deepest)}, which needs at least "
                    f"{need} px on each side: use a larger size, resize: square, or shallower layers")
