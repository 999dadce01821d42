"""lbfgs_bounds: why the PyTorch tutorial's L-BFGS loop blows up, shown on a small case, and
what each way of keeping the pixels in [0, 1] does (nst/run/optimizers.py, bounded_lbfgs.py).

The small case (48 px, the Caffe VGG-19, the baseline's objective at style weight 1e4, 100
iterations) was found by trying 32-64 px, three image seeds and three style weights with the
tutorial's loop: 4 of 27 ended diverged. On this one the loop shows both failures the demo had:
jumps of the loss, and a loss that then stays exactly the same.
"""
from __future__ import annotations

import time

import pytest
import torch

from nst.run import engine
from nst.run.bounded_lbfgs import BoundedLBFGS
from nst.run.loop import each_objective, optimize
from nst.run.optimizers import make_optimizer

from kit import make_image, tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small_case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small_case")
    return make_image(folder / "content.png", 48, 48, seed=5), make_image(folder / "style.png", 48, 48, seed=6)


def small_params(lbfgs_bounds: str):
    return tiny_params(size=48, weights="caffe", style_weight=1e4, iterations=100, lbfgs_bounds=lbfgs_bounds)


def traced(params, content, style):
    """The engine's loop on one run, recording after each step the image (as the step left it,
    before the next evaluation's clamp) and the number of curvature pairs the optimizer holds."""
    run = engine.RunState(params, content, style)
    engine.bind_network([run], params, params.content_layers + params.style_layers, torch.device("cpu"))
    optimizer = make_optimizer(params, run.image)
    state = lambda: optimizer.state[run.image]  # noqa: E731
    pairs = "old_stps" if isinstance(optimizer, torch.optim.LBFGS) else "old_s"
    after = [(run.image.detach().clone(), 0)]  # the start, before step 1

    def hook(iteration: int) -> None:
        after.append((run.image.detach().clone(), len(state().get(pairs, []))))

    optimize([run], optimizer, each_objective, 1, time.perf_counter(), hook)
    return run, state(), after


def test_the_tutorials_loop_stores_steps_it_did_not_take_then_blows_up_and_sticks(small_case):
    """clamp: torch's L-BFGS steps x + t d, the next evaluation's clamp moves the pixels back
    into [0, 1], and L-BFGS stores s = t d as the step. Where the clamp undid most of a step
    the pair claims a step far longer than the one taken for the same change of gradient, so
    L-BFGS believes the loss is flat along it and makes the next steps longer still: the loss
    jumps. At the end every pixel the direction moves is pinned at 0 or 1: the clamp undoes the
    whole step, the image and its gradient stay the same, no pair is stored (s'y = 0), the same
    direction comes again, and the loss stays exactly where it is."""
    run, state, after = traced(small_params("clamp"), *small_case)
    totals = [row["total"] for row in run.history]
    evaluated = [image.clamp(0, 1) for image, _ in after]  # evaluation k saw after[k - 1], clamped

    # the pairs L-BFGS stored against the steps actually taken between the evaluated points
    stored, proposed, taken = [], [], []
    for k in range(1, len(after) - 1):
        if after[k + 1][1] > after[k][1]:  # step k + 1 stored the pair of step k
            stored.append(state["old_stps"][after[k][1]])
            proposed.append(after[k][0] - evaluated[k - 1])  # where step k put the pixels
            taken.append(evaluated[k] - evaluated[k - 1])  # where the next evaluation had them
    assert all(torch.allclose(s, p.view(-1), rtol=1e-4, atol=1e-5 * float(p.norm())) for s, p in zip(stored, proposed))
    ratios = [float(s.norm() / t.norm().clamp_min(1e-30)) for s, t in zip(stored, taken)]
    assert max(ratios) > 1e3, max(ratios)  # a stored step a thousand times the one taken

    # the loss jumps after it had come down
    jumps = [totals[k] / min(totals[:k]) for k in range(1, len(totals))]
    assert min(totals) < 0.6 * totals[0] and max(jumps) > 10, max(jumps)

    # then it sticks: the same image, gradient and loss, no pair stored, the step clamped away
    stuck = next(k for k in range(len(totals)) if all(t == totals[k] for t in totals[k:]))
    assert len(totals) - stuck >= 15, stuck
    assert all(torch.equal(evaluated[k], evaluated[stuck]) for k in range(stuck, len(evaluated)))
    assert len({n for _, n in after[stuck + 1:]}) == 1
    d = state["d"].view_as(evaluated[-1])
    moved = d != 0
    assert bool(((evaluated[-1][moved] == 0) | (evaluated[-1][moved] == 1)).all())
    assert torch.equal((evaluated[-1] + state["t"] * d).clamp(0, 1), evaluated[-1])

    # and what the run records: diverged by the blow-up rule, stalled at the plateau
    final = run.scores(run.image.detach().clamp(0, 1), evaluate_too=False)["final"]["total"]
    assert run.verdict(final)[1] is not None and final > 2 * totals[0]
    assert run.stalled_at() is not None and run.stalled_at() <= stuck + 1


def test_projected_lbfgs_stores_the_steps_it_took_and_descends_on_the_same_case(small_case):
    """projected: the same case descends: every evaluated image is inside [0, 1], every stored
    pair is exactly the step between two accepted points, the accepted loss never rises, and
    the run ends on its lowest loss, below anything the tutorial's loop reached."""
    run, state, after = traced(small_params("projected"), *small_case)
    clamped, _, _ = traced(small_params("clamp"), *small_case)
    totals = [row["total"] for row in run.history]
    images = [image for image, _ in after]
    assert all(float(image.min()) >= 0 and float(image.max()) <= 1 for image in images)
    for k in range(1, len(after)):
        if after[k][1] > after[k - 1][1] and after[k][1] <= len(state["old_s"]):
            assert torch.equal(state["old_s"][after[k][1] - 1], (images[k] - images[k - 1]).view(-1)), k
    # step 1 evaluates the start; step k > 1 evaluation k, its trial, which after[k] holds if accepted
    accepted = [totals[0]] + [totals[k - 1] for k in range(2, len(after)) if not torch.equal(images[k], images[k - 1])]
    assert len(accepted) > 50
    assert all(b <= a for a, b in zip(accepted, accepted[1:]))
    final = run.scores(run.image.detach(), evaluate_too=False)["final"]["total"]
    assert final == pytest.approx(min(totals), rel=1e-6)
    assert final < min(row["total"] for row in clamped.history)
    assert run.verdict(final) == (None, None) and run.stalled_at() is None


def test_bounded_lbfgs_rejects_a_step_that_raises_the_loss_and_tries_a_shorter_one():
    """On f(x) = sum((x - 0.3)^2 * c) from 0.2, with a first trial far too long, the step is evaluated
    (one closure call), refused, the parameter goes back, and the next trial is shorter."""
    x = torch.full((4,), 0.2, requires_grad=True)
    scale = torch.tensor([1.0, 2.0, 4.0, 8.0])
    calls = []

    def closure():
        x.grad = None
        loss = ((x - 0.3) ** 2 * scale).sum()
        loss.backward()
        calls.append(x.detach().clone())
        return loss

    optimizer = BoundedLBFGS([x], lr=50.0)
    optimizer.step(closure)  # the start
    state = optimizer.state[x]
    state["t"] = 50.0  # a trial far past the minimum: to the bound 1 on every pixel
    before = x.detach().clone()
    optimizer.step(closure)
    assert len(calls) == 2 and torch.equal(calls[1], torch.ones(4))  # evaluated at the projected trial
    assert torch.equal(x.detach(), before) and state["rejected"] == 1 and state["t"] < 50.0 * 0.5 + 1e-9
    for _ in range(20):
        optimizer.step(closure)
    assert len(calls) == 22  # one evaluation per step
    assert torch.allclose(x.detach(), torch.full((4,), 0.3), atol=1e-4)
    assert float(x.detach().min()) >= 0 and float(x.detach().max()) <= 1


def test_bounded_lbfgs_holds_a_pixel_at_its_bound_when_the_gradient_pushes_it_out():
    """f(x) = sum(x * w): its minimum in [0, 1] is at a corner; pixels reach their bound and
    stay there (held), the others keep moving, no step leaves the box."""
    x = torch.full((3,), 0.5, requires_grad=True)
    w = torch.tensor([1.0, -1.0, 0.5])
    def closure():
        x.grad = None
        loss = (x * w).sum() + 0.5 * ((x - 0.5) ** 2).sum() * 0.1
        loss.backward()
        return loss
    optimizer = BoundedLBFGS([x])
    for _ in range(30):
        optimizer.step(closure)
        assert float(x.detach().min()) >= 0 and float(x.detach().max()) <= 1
    assert x.detach().tolist() == [0.0, 1.0, 0.0]


def test_bounded_lbfgs_keeps_curvature_pairs_of_an_objective_with_a_small_scale():
    """f(x) = c/2 |x - 0.5|^2 with c = 1e-6: every step's s'y is ~1e-18, far under torch's
    absolute 1e-10 but positive beyond rounding of -g's (the relative test kept): the pair is
    stored, its s'y / y'y = 1 / c scales the next direction, and the minimum is reached in a few
    steps. Refusing the pairs (the absolute test) repeats the first tiny step: f barely moves."""
    x = torch.full((100,), 0.3, requires_grad=True)
    c = 1e-6

    def closure():
        x.grad = None
        loss = 0.5 * c * ((x - 0.5) ** 2).sum()
        loss.backward()
        return loss

    optimizer = BoundedLBFGS([x])
    start = float(closure())
    optimizer.step(closure), optimizer.step(closure)  # the start, then the first step
    state = optimizer.state[x]
    assert len(state["old_s"]) == 1 and 0 < float(state["old_s"][0].dot(state["old_y"][0])) < 1e-10
    for _ in range(4):
        optimizer.step(closure)
    assert float(closure()) < 1e-3 * start
    assert torch.allclose(x.detach(), torch.full((100,), 0.5), atol=1e-3)


# --- every option: one evaluation per iteration, where the pixels are --------------------------
def capture(monkeypatch):
    """Every image the objective is evaluated at (a copy), in order."""
    seen = []
    original = engine.Objective.__call__

    def spy(self, image, shifted=True):
        if image.requires_grad:
            seen.append(image.detach().clone())
        return original(self, image, shifted)

    monkeypatch.setattr(engine.Objective, "__call__", spy)
    return seen


@pytest.mark.parametrize("bounds", ["clamp", "projected", "strong_wolfe", "free"])
def test_every_option_does_exactly_n_evaluations(bounds, content_path, style_path, monkeypatch):
    """N iterations are N evaluations, N history rows, whatever the option (strong_wolfe's
    line search included: a step's re-evaluation of the point its last line search ended on
    is not a new one)."""
    seen = capture(monkeypatch)
    result = engine.stylize(tiny_params(iterations=12, init="noise", lbfgs_bounds=bounds), content_path, style_path)
    assert len(seen) == 12 and [row["iteration"] for row in result.history] == list(range(1, 13))
    assert result.status == "ok" and result.final["total"] < result.history[0]["total"]


def test_strong_wolfe_takes_several_evaluations_per_step_and_ends_on_an_accepted_point(content_path, style_path,
                                                                                       monkeypatch):
    seen = capture(monkeypatch)
    params = tiny_params(iterations=15, init="noise", lbfgs_bounds="strong_wolfe")
    run = engine.RunState(params, content_path, style_path)
    engine.bind_network([run], params, params.content_layers + params.style_layers, torch.device("cpu"))
    optimizer = make_optimizer(params, run.image)
    assert optimizer.param_groups[0]["line_search_fn"] == "strong_wolfe"
    optimize([run], optimizer, each_objective, 1, time.perf_counter())
    steps = optimizer.state[run.image]["n_iter"]
    assert len(run.history) == 15 and steps < 15  # several evaluations per step
    final = run.image.detach().clamp(0, 1)
    assert any(torch.equal(final, image) for image in seen)  # a point L-BFGS evaluated and accepted


@pytest.mark.parametrize("bounds, inside", [("clamp", True), ("projected", True), ("strong_wolfe", True),
                                            ("free", False)])
def test_where_the_pixels_may_go_while_optimising(bounds, inside, content_path, style_path, monkeypatch):
    """clamp, projected, strong_wolfe evaluate only images in [0, 1]; free lets L-BFGS leave
    them (neural-style, Gatys et al.'s code) and clamps only what the run saves and scores."""
    seen = capture(monkeypatch)
    params = tiny_params(iterations=10, style_weight=1e8, lbfgs_bounds=bounds)
    result = engine.stylize(params, content_path, style_path)
    in_box = all(float(image.min()) >= 0 and float(image.max()) <= 1 for image in seen)
    assert in_box == inside
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1
