"""L-BFGS that keeps the image inside its pixel bounds, one evaluation of the objective per step
(`lbfgs_bounds: projected`, the baseline's optimizer).

Why not torch.optim.LBFGS with a clamp (the PyTorch tutorial's loop, `lbfgs_bounds: clamp`):
the clamp moves the pixels after L-BFGS has stepped, so the curvature pair it stores next,
s = t * d, describes a step that was not taken, and with a fixed step (no line search) nothing
catches a step that makes the loss worse; tests/run/test_lbfgs_bounds.py shows both on a small case.
Why not scipy's fmin_l_bfgs_b (L-BFGS-B, the reference for bounded L-BFGS): its state lives
inside the solver, so a run could not be checkpointed and resumed bit for bit (resume.pt holds
optimizer.state_dict()), its line search spends a varying number of evaluations per iteration,
and with 100 correction pairs its bookkeeping took longer than the network at 128 px
(BENCHMARKS.md, "L-BFGS and pixel bounds").

The method, a projected quasi-Newton method in the family of Bertsekas' two-metric projection
(not L-BFGS-B's Cauchy point and subspace minimisation):

- Between steps the parameter holds the last point the method accepted, always inside the box.
- Free and active pixels: a pixel at a bound whose gradient pushes it outward is held (active);
  the others are free. The direction is L-BFGS's two-loop recursion on the free pixels only
  (gradient and curvature pairs restricted to them), zero on the held ones; if that is not a
  descent direction the history is dropped and the direction is the free pixels' -gradient.
- A step proposes x + t d projected into the box, evaluates it (the step's one evaluation) and
  accepts it when it lowers the loss enough (Armijo: f_new <= f + c1 g'(x_new - x)). Otherwise
  the parameter returns to x and the next step tries a shorter t along the same direction (a
  quadratic fit, kept within [0.1, 0.5] of the last t): a backtracking line search whose every
  trial is one iteration, so that one iteration is still one evaluation.
- Curvature pairs are the step actually taken, s = x_new - x after projection, and the change
  of gradient y. A pair is stored unless s'y <= eps * (-g's) (eps: the dtype's machine
  epsilon), L-BFGS-B's test, which is relative to the step's own first-order change. torch's
  L-BFGS refuses s'y <= 1e-10 instead, an absolute number: on an objective whose scale makes
  s'y small (hubble_deep_field x woman_with_a_hat at 1e6: loss 105, |g|_1 790, first step
  1.3e-3) it refused every pair, every direction was the first one again, and 300 iterations
  took the loss from 105.6 to 96.7 (BENCHMARKS.md, benchmark 9).
- The first step evaluates the start (projected). The run's first direction is tried at
  torch's first step, min(1, 1 / |g|_1) * lr; every later one (a restart included) at t = lr,
  scaled by the last stored pair's s'y / y'y as L-BFGS scales its initial matrix.

Everything it carries between steps is in its state (tensors and numbers), so state_dict() /
load_state_dict() resume it exactly.
"""
from __future__ import annotations

import math

import torch

ARMIJO = 1e-4          # c1 of the sufficient-decrease test


class BoundedLBFGS(torch.optim.Optimizer):
    """L-BFGS within [lower, upper] on one tensor, one closure evaluation per step()."""

    def __init__(self, params, lr: float = 1.0, history_size: int = 100, lower: float = 0.0, upper: float = 1.0):
        super().__init__(params, dict(lr=lr, history_size=history_size, lower=lower, upper=upper))
        if len(self.param_groups) != 1 or len(self.param_groups[0]["params"]) != 1:
            raise ValueError("BoundedLBFGS optimises exactly one tensor")

    # --- pieces -------------------------------------------------------------------------------
    def _free(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """1 where a pixel may move, 0 where it is at a bound and its gradient pushes it out."""
        group = self.param_groups[0]
        held = ((x <= group["lower"]) & (g > 0)) | ((x >= group["upper"]) & (g < 0))
        return (~held).to(g.dtype)

    def _direction(self, state: dict, x: torch.Tensor, g: torch.Tensor) -> None:
        """state["d"]: L-BFGS's -H g on the free pixels (pairs restricted to them), 0 on the held
        ones; state["t"]: its first trial step (lr; torch's first step without a history)."""
        free = self._free(x, g)
        q = g * free
        old_s, old_y, rho = state["old_s"], state["old_y"], state["rho"]
        alphas = []
        for s, y, r in zip(reversed(old_s), reversed(old_y), reversed(rho)):
            alpha = r * s.dot(q)
            q.add_(y, alpha=-alpha).mul_(free)
            alphas.append(alpha)
        q.mul_(state["gamma"])  # the last stored pair's s'y / y'y (1 before any), kept across restarts
        for s, y, r, alpha in zip(old_s, old_y, rho, reversed(alphas)):
            beta = r * y.dot(q)
            q.add_(s, alpha=alpha - beta).mul_(free)
        d = q.neg_()
        slope = float(g.dot(d))
        if not (math.isfinite(slope) and slope < 0) and old_s:  # not downhill: start the history again
            old_s.clear(), old_y.clear(), rho.clear()
            state["restarts"] += 1
            d = -(g * free)
            d.mul_(state["gamma"])
        state["d"], state["t"] = d, self._first_trial(g) if state["n_iter"] == 1 else self.param_groups[0]["lr"]

    def _first_trial(self, g: torch.Tensor) -> float:
        """torch's L-BFGS first step: min(1, 1 / |g|_1) * lr."""
        return min(1.0, 1.0 / max(float(g.abs().sum()), 1e-30)) * self.param_groups[0]["lr"]

    def _remember(self, state: dict, s: torch.Tensor, y: torch.Tensor, predicted: float) -> None:
        """Store the pair (s, y) unless its curvature s'y is not positive beyond rounding:
        s'y <= eps * (-g's), with g's = `predicted` (L-BFGS-B's test; the module says why)."""
        ys = s.dot(y)
        if not float(ys) > torch.finfo(s.dtype).eps * -predicted:
            return
        if len(state["old_s"]) == self.param_groups[0]["history_size"]:
            state["old_s"].pop(0), state["old_y"].pop(0), state["rho"].pop(0)
        state["old_s"].append(s)
        state["old_y"].append(y)
        state["rho"].append(1.0 / ys)
        state["gamma"] = ys / y.dot(y)

    # --- a step: one evaluation -----------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure):  # type: ignore[override]
        """Evaluate the next trial point (the start, the first time) and accept or reject it;
        returns the loss the closure returned."""
        group = self.param_groups[0]
        param = group["params"][0]
        state = self.state[param]
        closure = torch.enable_grad()(closure)
        if "g" not in state:  # the start, projected into the box
            param.clamp_(group["lower"], group["upper"])
            loss = closure()
            if param.grad is None:  # a non-finite loss: the run stops here (nst/run/loop.py)
                return loss
            g = param.grad.reshape(-1).clone()
            state.update(f=float(loss), g=g, old_s=[], old_y=[], rho=[], gamma=1.0, n_iter=1, rejected=0,
                         restarts=0)
            self._direction(state, param.detach().reshape(-1), g)
            return loss

        x = param.detach().reshape(-1).clone()
        trial = (x + state["t"] * state["d"]).clamp_(group["lower"], group["upper"])
        param.copy_(trial.view_as(param))
        loss = closure()
        state["n_iter"] += 1
        f_new, s = float(loss), trial - x
        predicted = float(state["g"].dot(s))  # the first-order change of the loss along the step
        if math.isfinite(f_new) and f_new <= state["f"] + ARMIJO * predicted:
            g_new = param.grad.reshape(-1).clone()
            self._remember(state, s, g_new - state["g"], predicted)
            state.update(f=f_new, g=g_new)
            self._direction(state, trial, g_new)
        else:  # back to the accepted point; the next trial is shorter, along the same direction
            param.copy_(x.view_as(param))
            state["rejected"] += 1
            curvature = f_new - state["f"] - predicted
            fit = -predicted / (2 * curvature) if math.isfinite(f_new) and curvature > 0 else 0.1
            state["t"] *= min(max(fit, 0.1), 0.5)
        return loss
