"""A finished run's record (run.json): what nst/run/result.py's RunResult.record() holds, read
once, checked and typed, for every reader of a run folder (nst/contracts/run_folder.py's
read_record and probe_record find the file; this module knows only its text).

A RunRecord exposes the fields the readers use as typed attributes and keeps the parsed object
whole (`data`), so that nothing a record holds is lost: `to_json()` writes it back byte for byte
as nst/run/writer.py writes a run's record (a run written from a longer run's snapshot,
nst/study/plan/trajectory.py, is the leader's record with a few fields `replace`d). Only a
record's identity is required (`run_id`, a string, and `params`, an object); every other field
may be missing (records written before it existed) and reads as None (a number or a name) or
{} (an object). Torch-free, like every contract.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

from ..errors import InputError
from ..files import JSON_KINDS, parse_json_object

# what a message calls each kind a field may hold; the optional fields may also be null or missing
_NAMES = {str: "a string", int: "a whole number", dict: "an object {...}"}
_OPTIONAL = {"status": str, "diverged_at": int, "diverged_reason": str, "stalled_at": int,
             "iterations_done": int, "device": str, "continued_from": str, "derived_from": str}
_OBJECTS = ("final", "evaluation", "weights", "timing")


@dataclass(frozen=True)
class RunRecord:
    """One run.json, parsed and checked (from_json, from_dict); `data` is the whole object, not
    to be changed in place (as_dict gives a copy, replace a changed record)."""

    run_id: str
    params: dict                       # the run's RunParams, as RunParams.to_dict wrote them
    status: str | None                 # "ok" | "diverged"
    diverged_at: int | None
    diverged_reason: str | None
    stalled_at: int | None             # where its loss stopped changing (nst/run/stall.py)
    iterations_done: int | None
    final: dict                        # the run's own losses of its final image
    evaluation: dict                   # the reference evaluation (eval_*, ssim_content, ...)
    weights: dict                      # where the network's weights came from
    timing: dict
    device: str | None
    continued_from: str | None         # the shorter run it continued (study/plan/rungs.py)
    derived_from: str | None           # the longer run whose snapshot it is (study/plan/trajectory.py)
    data: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, text: str, where: str = "run record") -> RunRecord:
        """The record in `text`; InputError naming `where` (e.g. "run record '<path>'") if it is
        not JSON, not an object, or not a run's record (a field missing or of the wrong kind)."""
        return cls.from_dict(parse_json_object(text, where), where)

    @classmethod
    def from_dict(cls, data: dict, where: str = "run record") -> RunRecord:
        """The record of a parsed run.json (or RunResult.record()); InputError as from_json."""
        if not isinstance(data, dict):
            raise InputError(f"{where} holds {_kind(data)}, not a JSON object {{...}}")
        for key, kind in (("run_id", str), ("params", dict)):
            if key not in data:
                raise InputError(f"{where} holds no run: it has no {key!r}")
            _check(data, key, kind, where, required=True)
        for key, kind in _OPTIONAL.items():
            _check(data, key, kind, where)
        for key in _OBJECTS:
            _check(data, key, dict, where)
        return cls(**{key: data.get(key) for key in ("run_id", "params", *_OPTIONAL)},
                   **{key: data.get(key) or {} for key in _OBJECTS}, data=data)

    def to_json(self) -> str:
        """run.json's text, as nst/run/writer.py writes it (indent 2, a final newline)."""
        return json.dumps(self.data, indent=2) + "\n"

    def as_dict(self) -> dict:
        """A copy of the whole record, in its own key order."""
        return copy.deepcopy(self.data)

    def replace(self, **changes) -> RunRecord:
        """This record with `changes`: a field it has keeps its place, a new one goes last."""
        return RunRecord.from_dict({**self.as_dict(), **changes})

    @property
    def iterations(self) -> int | None:
        """The iterations its params asked for (None in a record without them)."""
        return self.params.get("iterations")

    @property
    def random_weights(self) -> bool:
        """Whether it ran on random weights (not real style transfer)."""
        return bool(self.data.get("random_weights", self.weights.get("random", False)))


def _kind(value) -> str:
    return "null" if value is None else JSON_KINDS.get(type(value), type(value).__name__)


def _check(data: dict, key: str, kind: type, where: str, required: bool = False) -> None:
    value = data.get(key)
    if value is None and not required:
        return
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"{where} holds no run: its {key!r} is {_kind(value)}, not {_NAMES[kind]}")
