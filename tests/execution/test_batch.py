"""Several runs in one process: a stacked batch is the same optimisation as separate runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nst import preset
from nst.execution.batch import stackable, stylize_batch, stylize_many
from nst.run.engine import stylize


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    rng = np.random.default_rng(11)
    paths = []
    for i in range(4):
        path = folder / f"{i}.png"
        Image.fromarray((rng.random((34, 34, 3)) * 255).astype("uint8")).save(path)
        paths.append(str(path))
    return paths


def params(**kw):
    base = dict(weights="random", size=32, iterations=6, device="cpu", optimizer="adam")
    return preset("baseline", **{**base, **kw})


def assert_same_run(batched, alone, rtol=1e-4):
    assert batched.params.run_id == alone.params.run_id
    assert batched.status == alone.status and len(batched.history) == len(alone.history)
    for row_b, row_a in zip(batched.history, alone.history):
        for column in ("content", "style", "total"):
            assert row_b[column] == pytest.approx(row_a[column], rel=rtol, abs=1e-9), (row_b["iteration"], column)
    # Adagrad and Adam scale each pixel's step by its own gradient's size, so a pixel whose
    # gradient is at float-noise level moves by about lr in a direction that noise picks: at one
    # CPU thread (the workflow's default) a batched convolution sums in another order than a
    # single one, and a handful of such pixels differ. Broken batching changes most pixels (and the
    # losses above); so: every pixel but at most one in a hundred within 1e-4, none past 2 lr
    # (at 32 px, 1 thread: 8 of 3,072 differ, by about 1e-4).
    diff = (batched.image - alone.image).abs()
    assert (diff > 1e-4).float().mean().item() <= 1e-2, f"{int((diff > 1e-4).sum())} pixels differ"
    assert diff.max().item() <= 2 * (alone.params.lr or 1.0)
    assert batched.evaluation["eval_total"] == pytest.approx(alone.evaluation["eval_total"], rel=rtol)


@pytest.mark.parametrize("optimizer", ["adam", "adagrad", "sgd"])
def test_stacked_batch_equals_separate_runs(images, optimizer):
    # Different pairs, learning rates, inits, weights, layers, losses and shifting in one batch.
    requests = [
        (params(optimizer=optimizer, lr=0.05), images[0], images[1]),
        (params(optimizer=optimizer, lr=0.02, init="noise", seed=3, loss="l1"), images[2], images[3]),
        (params(optimizer=optimizer, style_weight=1e4, content_layers=["relu_5"], shift=0.9,
                shift_rotation=3.0), images[1], images[0]),
    ]
    assert stackable(requests)
    batched = stylize_batch(requests)
    for result, (p, c, s) in zip(batched, requests):
        assert_same_run(result, stylize(p, c, s))


def test_a_diverging_member_does_not_disturb_the_others(images):
    requests = [(params(style_weight=1e39), images[0], images[1]), (params(), images[2], images[3])]
    diverged, fine = stylize_batch(requests)
    assert diverged.status == "diverged" and diverged.diverged_at == 1
    assert_same_run(fine, stylize(*requests[1]))


def test_lbfgs_runs_of_every_bounds_run_one_after_another_as_they_would_alone(images):
    requests = [(params(optimizer="lbfgs", lbfgs_bounds=b, init="noise"), images[0], images[1])
                for b in ("clamp", "projected", "strong_wolfe", "free")]
    assert len({p.run_id for p, _, _ in requests}) == 4 and not stackable(requests)
    for result, request in zip(stylize_many(requests, batch_size=8), requests):
        alone = stylize(*request)
        assert result.params.lbfgs_bounds == request[0].lbfgs_bounds
        assert [row["total"] for row in result.history] == [row["total"] for row in alone.history]
        assert torch.equal(result.image, alone.image)


def test_lbfgs_and_mixed_settings_run_one_after_another(images):
    requests = [(params(optimizer="lbfgs"), images[0], images[1]),
                (params(optimizer="lbfgs", seed=2, init="noise"), images[2], images[3]),
                (params(iterations=3), images[0], images[3])]
    assert not stackable(requests[:2])
    results = stylize_many(requests, batch_size=8)
    assert [r.params for r in results] == [p for p, _, _ in requests]
    for result, request in zip(results, requests):  # sequential runs are exactly the runs
        alone = stylize(*request)
        assert [row["total"] for row in result.history] == [row["total"] for row in alone.history]
