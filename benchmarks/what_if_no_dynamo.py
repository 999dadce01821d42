"""What-if for benchmark 2 (not nst's behaviour): `nst ...` with torch.optim's lazy import of
torch._dynamo bypassed.

torch.optim.Optimizer.add_param_group (called by every optimizer's __init__) and zero_grad are
wrapped in torch._disable_dynamo, which imports torch._dynamo (about a second) on first use
unless the wrapped function already carries its `__dynamo_disable` replacement. Setting that
attribute to the function itself skips the import; nothing is compiled in an `nst run`, so
there is nothing for dynamo to disable. This relies on a private detail of torch 2.x: where it
does not hold, the command simply runs as usual. Prints to stderr whether torch._dynamo was
imported in the end.

    python benchmarks/what_if_no_dynamo.py run CONTENT STYLE -o OUT ...
"""
import sys

from torch.optim import Optimizer

for name in ("add_param_group", "zero_grad", "state_dict", "load_state_dict"):
    fn = getattr(getattr(Optimizer, name), "__wrapped__", None)
    if fn is not None:
        fn.__dynamo_disable = fn

from nst.cli import main  # noqa: E402

rc = main(sys.argv[1:])
print(f"what-if: torch._dynamo imported: {'torch._dynamo' in sys.modules}", file=sys.stderr)
sys.exit(rc)
