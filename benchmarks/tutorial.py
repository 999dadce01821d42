"""The plain way: the PyTorch neural-style tutorial's code
(https://pytorch.org/tutorials/advanced/neural_style_tutorial.html), kept as written there:
loss modules inserted into an nn.Sequential, the Gram matrix by view + mm, torch.optim.LBFGS
with its defaults (max_iter=20: one step() evaluates the closure up to 20 times), torchvision's
`vgg19` features. The only additions are time stamps and the loss rows the closure returns.

Used in process by benchmark 1 (time per iteration) and run as a script by benchmark 2 (a job
done the tutorial way: import torchvision, build the full vgg19, load the full state dict,
iterate, write the image and a loss table):

    python benchmarks/tutorial.py CONTENT STYLE OUTDIR --weights FULL.pth --size 128 --steps 1
"""
from __future__ import annotations

import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


def gram_matrix(input):
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


CNN_MEAN = [0.485, 0.456, 0.406]
CNN_STD = [0.229, 0.224, 0.225]
CONTENT_LAYERS = ["conv_4"]
STYLE_LAYERS = ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]


def get_style_model_and_losses(cnn, mean, std, style_img, content_img,
                               content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS):
    normalization = Normalization(mean, std)
    content_losses, style_losses = [], []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool_{i}"
        elif isinstance(layer, nn.BatchNorm2d):
            name = f"bn_{i}"
        else:
            raise RuntimeError(f"Unrecognized layer: {layer.__class__.__name__}")
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
            break
    model = model[: (i + 1)]
    return model, style_losses, content_losses


def get_input_optimizer(input_img):
    return optim.LBFGS([input_img])


class StopRun(Exception):
    """Raised by the closure to end a run after `max_evals` evaluations."""


def run_style_transfer(cnn, mean, std, content_img, style_img, input_img, num_steps=300,
                       style_weight=1000000, content_weight=1, stamps=None, rows=None, max_evals=None):
    """The tutorial's loop. `stamps` gets time.perf_counter() once per evaluation, at the point
    where nst's engine stamps its history rows (losses computed, before backward); `rows` the
    losses. The tutorial's `while run[0] <= num_steps` evaluates in whole steps of 20, so
    num_steps = 20k - 1 gives exactly 20k evaluations; `max_evals` ends a shorter run after that
    many evaluations and updates (StopRun, before the next evaluation starts)."""
    model, style_losses, content_losses = get_style_model_and_losses(cnn, mean, std, style_img, content_img)
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = get_input_optimizer(input_img)
    run = [0]
    while run[0] <= num_steps:

        def closure():
            if max_evals is not None and run[0] >= max_evals:
                raise StopRun
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = 0
            content_score = 0
            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss
            style_score *= style_weight
            content_score *= content_weight
            loss = style_score + content_score
            if rows is not None:
                rows.append((run[0] + 1, style_score.item(), content_score.item()))
            if stamps is not None:
                stamps.append(time.perf_counter())
            loss.backward()
            run[0] += 1
            return style_score + content_score

        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    return input_img


# --- a whole job, the tutorial way (benchmark 2) -------------------------------------------
def job(argv=None) -> None:
    import argparse
    import json
    import os
    import sys

    import torchvision.models as models
    import torchvision.transforms as transforms
    from PIL import Image

    parser = argparse.ArgumentParser()
    parser.add_argument("content")
    parser.add_argument("style")
    parser.add_argument("outdir")
    parser.add_argument("--weights", required=True, help="full torchvision vgg19 state dict")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1, help="evaluations (whole LBFGS steps of 20 above 20)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cpu")

    loader = transforms.Compose([transforms.Resize(args.size), transforms.ToTensor()])

    def image_loader(image_name):
        image = Image.open(image_name)
        image = loader(image).unsqueeze(0)
        return image.to(device, torch.float)

    style_img = image_loader(args.style)
    content_img = image_loader(args.content)
    cnn = models.vgg19()
    cnn.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
    cnn = cnn.features.to(device).eval()
    input_img = content_img.clone()

    rows = _Rows()
    try:
        output = run_style_transfer(cnn, CNN_MEAN, CNN_STD, content_img, style_img, input_img,
                                    num_steps=args.steps - 1, rows=rows, max_evals=args.steps)
    except StopRun:
        with torch.no_grad():
            output = input_img.clamp_(0, 1)

    os.makedirs(args.outdir, exist_ok=True)
    transforms.ToPILImage()(output.detach().cpu().squeeze(0)).save(os.path.join(args.outdir, "image.png"))
    with open(os.path.join(args.outdir, "history.csv"), "w") as fh:
        fh.write("iteration,style,content\n")
        fh.writelines(f"{i},{s!r},{c!r}\n" for i, s, c in rows)
    with open(os.path.join(args.outdir, "run.json"), "w") as fh:
        json.dump({"final": {"style": rows[-1][1], "content": rows[-1][2]}, "iterations": len(rows)}, fh)
    json.dump({"first_iteration_wall": rows.first_wall, "written_wall": time.time()}, sys.stdout)


class _Rows(list):
    """Loss rows, plus the wall-clock time the first iteration's losses were computed."""

    first_wall = None

    def append(self, row):
        if self.first_wall is None:
            self.first_wall = time.time()
        super().append(row)


if __name__ == "__main__":
    job()
