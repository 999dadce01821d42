"""The shape of nst/: the contracts at the bottom, three layers (one run, the study, execution)
on them, the CLI on top, and imports that only ever point down. Read from the source with ast,
so a lazy import inside a function counts as much as one at the top."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

NST = Path(__file__).resolve().parents[1] / "nst"
LAYERS = ("contracts", "run", "study", "execution", "judge")
# what each part of nst/ may import from nst/ (besides itself and the shared errors/files/hashes);
# the contracts (what crosses a file, process or rule boundary) sit under everything; judge (the
# rating page) reads a study through study/ and is read by no layer
MAY_IMPORT = {"contracts": {"contracts"}, "run": {"run", "contracts"},
              "study": {"study", "contracts"}, "execution": {"execution", "run", "contracts"},
              "judge": {"judge", "study", "run", "contracts"}}
# outside nst/contracts/ (whose modules are all checked below, imports inside functions included)
TORCH_FREE = ["study/plan/build.py", "study/plan/catalog.py", "study/tables/aggregate.py", "study/figures/run_grids.py",
              "study/plan/trajectory.py", "run/device.py", "study/tables/select.py", "study/figures/grids.py", "study/figures/charts.py",
              "study/tables/stats.py", "study/tables/summary.py", "study/tables/findings.py", "study/figures/effect_charts.py",
              "study/plan/reconstruct.py", "study/figures/layer_charts.py", "study/figures/reconstruction.py",
              "study/figures/selection_chart.py", "study/plan/blends.py", "study/plan/job_inputs.py",
              "study/tables/halving.py", "study/plan/rungs.py", "study/plan/names.py", "study/plan/config_input.py",
              "study/plan/stale_runs.py", "contracts/state_dict_file.py", "run/prescore.py",
              "study/gallery/cards.py", "study/gallery/data.py", "study/gallery/build.py",
              "study/tables/judgements.py", "study/tables/bradley_terry.py", "study/tables/human.py", "study/tables/human_agreement.py",
              "study/figures/human_charts.py", "study/tables/people_claims.py", "study/tables/verdicts.py",
              "judge/catalog.py", "judge/schedule.py", "judge/store.py", "judge/server.py",
              "execution/resources.py", "execution/runner.py", "files.py", "hashes.py", "errors.py"]


def modules():
    return sorted(p for p in NST.rglob("*.py") if "__pycache__" not in p.parts)


def nst_imports(path: Path, root: Path = NST) -> set[str]:
    """The nst/ parts (run, study, execution, cli, ...) that `path` (a module under `root`)
    imports, top level or not, in any of the four spellings of an import."""
    package = path.relative_to(root).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - (node.level - 1)]) if node.level > 1 else list(package)
            target = base + (node.module.split(".") if node.module else [])
            names = [target[0]] if target else [alias.name for alias in node.names]
            found.update(names)
        elif isinstance(node, ast.ImportFrom) and node.module == "nst":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nst."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("nst."))
    return found


def imported_packages(path: Path, anywhere: bool = False) -> set[str]:
    """Third-party top-level packages imported at module level (or `anywhere`)."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in (ast.walk(tree) if anywhere else tree.body):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(NST)))
def test_imports_point_down(path):
    layer = path.relative_to(NST).parts[0] if path.parent != NST else None
    if layer not in LAYERS:
        return  # cli and the shared modules on top may use everything
    allowed = MAY_IMPORT[layer] | {"errors", "files", "hashes", "__version__"}
    assert nst_imports(path) <= allowed, f"{path.relative_to(NST)} imports {sorted(nst_imports(path) - allowed)}"


# study/ by stage: planning reads only the plan's modules; tables may use the plan's pure
# definitions (the halving rungs, the reconstruct design); figures and the gallery page draw from
# tables. So a stage never imports one after it, and planning (inside Snakemake's parse step)
# never pulls in pandas through a table module.
STAGES = {"plan": {"plan"}, "tables": {"plan", "tables"}, "figures": {"plan", "tables", "figures"},
          "gallery": {"plan", "tables", "gallery"}}


def study_stages_imported(path: Path, root: Path = NST) -> set[str]:
    """The study/ stages a module under study/ imports (anywhere in its text)."""
    me = module_name(path, root)
    prefix = f"{root.name}.study."
    return {edge[len(prefix):].split(".")[0] for edge in module_graph(root)[me] if edge.startswith(prefix)}


@pytest.mark.parametrize("path", sorted(p for stage in STAGES for p in (NST / "study" / stage).rglob("*.py")),
                         ids=lambda p: str(p.relative_to(NST)))
def test_study_stages_point_one_way(path):
    stage = path.relative_to(NST / "study").parts[0]
    assert study_stages_imported(path) <= STAGES[stage]


def test_every_study_module_belongs_to_a_stage():
    """Only the demo's images (used by one command) sit at study/'s top."""
    loose = sorted(p.name for p in (NST / "study").glob("*.py"))
    assert loose == ["__init__.py", "demo.py"]


def test_the_stage_checker_sees_a_backward_import(tmp_path):
    for stage in ("plan", "tables"):
        (tmp_path / "nst" / "study" / stage).mkdir(parents=True)
        (tmp_path / "nst" / "study" / stage / "__init__.py").write_text("")
    (tmp_path / "nst" / "__init__.py").write_text("")
    (tmp_path / "nst" / "study" / "__init__.py").write_text("")
    (tmp_path / "nst" / "study" / "tables" / "aggregate.py").write_text("")
    probe = tmp_path / "nst" / "study" / "plan" / "build.py"
    probe.write_text("def f():\n    from ..tables import aggregate\n")
    assert study_stages_imported(probe, tmp_path / "nst") == {"tables"}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(NST)))
def test_nothing_in_nst_imports_snakemake(path):
    assert "snakemake" not in imported_packages(path, anywhere=True)


MAX_MODULE_LINES = 400  # one concern per module: past this, a module holds two


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(NST)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these by concern: {long}"


@pytest.mark.parametrize("name", TORCH_FREE)
def test_planning_and_tables_import_no_torch(name):
    """These run at planning time (inside Snakemake's parse step) or in table jobs: no torch."""
    assert not imported_packages(NST / name) & {"torch", "torchvision", "kornia"}


@pytest.mark.parametrize("line", ["from ..study import plan", "from nst.study import plan",
                                  "import nst.study.plan.build", "from nst import study"])
def test_the_checker_sees_an_upward_import(tmp_path, line):
    probe = tmp_path / "run" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(f"def f():\n    {line}\n")
    assert "study" in nst_imports(probe, root=tmp_path)


# --- no import cycle, counting lazy and TYPE_CHECKING imports (issue 20) -------------------
def module_name(path: Path, root: Path = NST) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(root: Path = NST) -> dict[str, set[str]]:
    """module -> the nst modules it imports anywhere in its text (top level, inside a function,
    under `if TYPE_CHECKING:`); `from . import x` names the submodule x, a package its __init__."""
    names = {module_name(p, root) for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    top = root.name

    def resolve(name: str) -> str | None:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        me = module_name(path, root)
        package = me if path.name == "__init__.py" else me.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges.update(resolve(a.name) for a in node.names if a.name.split(".")[0] == top)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != top:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges.add(sub if sub in names else resolve(target))
        graph[me] = {e for e in edges if e and e != me}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_nst_counting_lazy_and_type_checking_imports():
    assert cycles(module_graph()) == []


@pytest.mark.parametrize("where", ["def f():\n    from .b import x\n",
                                   "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n",
                                   "import pkg.b\n"])
def test_the_cycle_checker_sees_a_hidden_cycle(tmp_path, where):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(where)
    (package / "b.py").write_text("from .a import y\n")
    assert cycles(module_graph(package)) == [["pkg.a", "pkg.b"]]


# --- the contracts import nothing above them (issue 20) -------------------------------------
# nst/contracts/ is what the planner (inside Snakemake's parse step), the short table jobs, the
# rules and a run's process all read: an import of a layer above it would be a cycle waiting to
# happen, and a heavy library would be paid for by every one of them.
CONTRACTS_MAY_USE = {"contracts", "errors", "files", "hashes"}  # the shared modules are torch-free
HEAVY = {"torch", "torchvision", "kornia", "pandas", "scipy", "matplotlib", "snakemake"}


def contract_violations(root: Path = NST) -> list[str]:
    """Each import in root/contracts/ (top level, inside a function or under TYPE_CHECKING) of
    a part of nst/ other than CONTRACTS_MAY_USE, or of a HEAVY library."""
    allowed = {f"{root.name}.{name}" for name in CONTRACTS_MAY_USE}
    graph = module_graph(root)
    found = []
    for path in sorted((root / "contracts").rglob("*.py")):
        module = module_name(path, root)
        found += [f"{module} imports {edge}" for edge in sorted(graph[module])
                  if not any(edge == a or edge.startswith(a + ".") for a in allowed)]
        found += [f"{module} imports {name}" for name in sorted(imported_packages(path, anywhere=True) & HEAVY)]
    return found


def test_contracts_import_nothing_above_them():
    assert contract_violations() == []


@pytest.mark.parametrize("line", ["def f():\n    from ..run import engine\n",
                                  "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from nst.study.plan.build import Plan\n",
                                  "def f():\n    import pandas\n",
                                  "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
                                  "from matplotlib import pyplot\n"])
def test_the_contracts_checker_sees_an_import_above_them(tmp_path, line):
    for part in ("contracts", "run", "study"):
        (tmp_path / "nst" / part).mkdir(parents=True)
        (tmp_path / "nst" / part / "__init__.py").write_text("")
    (tmp_path / "nst" / "__init__.py").write_text("")
    (tmp_path / "nst" / "errors.py").write_text("")
    (tmp_path / "nst" / "run" / "engine.py").write_text("")
    (tmp_path / "nst" / "study" / "plan.py").write_text("")
    (tmp_path / "nst" / "contracts" / "ok.py").write_text("from ..errors import X\nfrom . import probe\n")
    (tmp_path / "nst" / "contracts" / "probe.py").write_text(line)
    assert len(contract_violations(tmp_path / "nst")) == 1


# --- a run folder's file names are spelled in one module (issue 20) --------------------------
# contracts/run_folder.py names the files of a run folder; everything else takes the names from
# there, so renaming one (or adding a file a reader must know) is one edit.
RUN_FOLDER_MODULE = "contracts/run_folder.py"
RUN_FILES = {"run.json", "image.png", "history.csv", "resume.pt"}  # a file: any mention in a path
RUN_SUBFOLDERS = {"snapshots", "scores"}  # also a params field and a score file's key: in a path only


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def run_folder_names_spelled(path: Path) -> list[str]:
    """The strings in `path` (docstrings aside) that spell a run folder's file names as paths:
    a path part that is one of RUN_FILES, a path with a RUN_SUBFOLDERS part (with a "/", or
    joined with `/` to a path)."""
    tree = ast.parse(path.read_text())
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            parts = set(node.value.split("/"))
            if parts & RUN_FILES or ("/" in node.value and parts & RUN_SUBFOLDERS):
                found.append(f"{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value in RUN_SUBFOLDERS:
                    found.append(f"{side.lineno}: {side.value!r} in a path")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(NST)))
def test_run_folder_names_are_spelled_in_one_module(path):
    name = str(path.relative_to(NST))
    if name == RUN_FOLDER_MODULE:
        return
    assert run_folder_names_spelled(path) == []


def test_the_run_folder_module_names_what_the_checker_looks_for():
    from nst.contracts import run_folder

    names = {value for value in vars(run_folder).values() if isinstance(value, str)}
    assert RUN_FILES | RUN_SUBFOLDERS <= names


@pytest.mark.parametrize("line", ["p = outdir / 'run.json'\n", "p = f'{outdir}/image.png'\n",
                                  "p = Path(outdir) / 'snapshots' / name\n", "p = f'{run}/scores/{h}.json'\n",
                                  "glob = 'snapshots/*.pt'\n", "NAME = 'resume.pt'\n"])
def test_the_name_checker_sees_a_run_folder_name(tmp_path, line):
    probe = tmp_path / "probe.py"
    probe.write_text('"""Writes run.json and snapshots/ (prose is fine)."""\n' + line)
    assert len(run_folder_names_spelled(probe)) == 1


def test_the_name_checker_leaves_params_and_prose_alone(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('params = {"snapshots": [], "scores": {}}\nmessage = "a run.json that lists no images"\n'
                     'x = params["snapshots"]\n')
    assert run_folder_names_spelled(probe) == []
