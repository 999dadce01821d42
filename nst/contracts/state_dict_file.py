"""What a weights file holds, read without torch and without unpickling anything: planning checks
each weights file once, before any job, and a job says what is wrong in words of ours.

A torch.save file is a zip archive whose `<name>/data.pkl` is a pickle (the older format: a few
pickles, then the raw tensor data). A pickle names, with GLOBAL opcodes, every class or function
it would call to rebuild its objects; Python's pickletools lists the opcodes and runs none of
them. A state dict of tensors names only collections.OrderedDict, torch's tensor and parameter
rebuilders (torch._utils) and its storage types (torch.FloatStorage, ...). Anything else (a whole
nn.Module, a class of the user's, numpy arrays, builtins such as print) is a pickled Python
object, which torch.load(weights_only=True) refuses in every job, with advice to load it
unsafely. A TorchScript archive (torch.jit.save) holds code. This is a first look: what it
passes, the job still loads with weights_only=True. Torch-free (planning runs it).
"""
from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import zipfile
from pathlib import Path

from ..errors import WeightsError

SAVE_INSTEAD = "save the network's state dict instead (torch.save(model.state_dict(), PATH)) and name that file"
STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
# torch.save's names for a state dict of tensors (checked against torch in tests/run/test_weights.py)
ALLOWED = re.compile(r"collections\.OrderedDict|torch\._utils\._rebuild_\w+|torch\.\w*Storage"
                     r"|torch\.storage\.\w*Storage|torch\.nn\.parameter\.Parameter|torch\._tensor\._rebuild_from_type_v2"
                     r"|torch\.serialization\._get_layout|torch\.Size")


def check_state_dict_file(path: str | os.PathLike) -> None:
    """WeightsError, naming the file, if it is empty, a TorchScript archive, or a pickle that
    names anything a state dict of tensors does not; nothing otherwise (files it cannot read as
    torch.save's are left to torch.load, which says why)."""
    path = Path(path)
    where = f"weights file {str(path)!r}"
    try:
        if path.stat().st_size == 0:
            raise WeightsError(f"{where} is empty (0 bytes)")
        pickles = _pickles(path, where)
    except (OSError, zipfile.BadZipFile):
        return  # unreadable here: torch.load tells the job why
    others = sorted({name for data in pickles for name in _globals(data) if not ALLOWED.fullmatch(name)})
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise WeightsError(f"{where} holds pickled Python objects ({shown}), not only tensors: nst loads a state "
                           f"dict of tensors and never runs code from a file; {SAVE_INSTEAD}")


def _pickles(path: Path, where: str) -> list[bytes]:
    """The pickled parts of a torch.save file: data.pkl of the zip format, or the whole file of
    the older one (its pickles come first)."""
    if not zipfile.is_zipfile(path):
        head = path.read_bytes()[: 1 << 20]  # the pickles are at the start; the tensors' bytes follow
        return [head] if head[:1] == pickle.PROTO else []  # not a pickle: torch.load says what it is
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if any("/code/" in name or name.endswith("constants.pkl") for name in names):
            raise WeightsError(f"{where} is a TorchScript archive (torch.jit.save), which holds code, not a state "
                               f"dict of tensors; {SAVE_INSTEAD}")
        return [archive.read(name) for name in names if name == "data.pkl" or name.endswith("/data.pkl")]


def _globals(data: bytes) -> set[str]:
    """`module.name` of every GLOBAL and STACK_GLOBAL in the pickles at the start of `data`."""
    found, stream = set(), io.BytesIO(data)
    while stream.tell() < len(data):
        strings: list[str] = []
        try:
            for op, arg, _ in pickletools.genops(stream):
                if op.name in STRING_OPS:
                    strings.append(str(arg))
                elif op.name == "GLOBAL":
                    found.add(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.add(f"{strings[-2]}.{strings[-1]}")
        except (ValueError, EOFError, IndexError, KeyError, UnicodeDecodeError):
            break  # the end of the pickles (the older format's tensor bytes follow them)
    return {name.replace("__builtin__.", "builtins.") for name in found}
