"""dvc.yaml cannot drift from the code: every stage lists all project code its command runs.

For each stage, the project modules that `python -m pipeline <stage>` imports are found
from the code itself (imports anywhere in a file, followed transitively; package
`__init__`s count, since Python runs them). Two registries import by name at run time:
the head registry (a stage whose command names a head runs that head's module, any other
stage that loads heads through the registry may run every enabled head), and the engine
registry, which runs the engine `embed.engine` names (dvc.yaml lists it as
`features/engines/${embed.engine}.py`). Imports under `if TYPE_CHECKING:` never run and do
not count.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "pipeline")
HEAD_LOADERS = {
    "head_class",
    "head_from_params",
    "load_head",
    "load_heads",
    "make_head",
}  # pipeline.heads.registry's loaders
ENGINE_REGISTRY = "features.engines.registry"


def _file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _imports(module: str, root: Path) -> frozenset[str]:
    """Project modules `module` imports, anywhere in its file (function bodies included)."""
    path = _file(module, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in _run_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(p for p in (base, node.module) if p)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return frozenset(m for m in found if m.split(".")[0] in PACKAGES and _file(m, root))


def _run_nodes(tree: ast.AST):
    """Every node, less the bodies of `if TYPE_CHECKING:` blocks."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            yield from (n for orelse in child.orelse for n in [orelse, *_run_nodes(orelse)])
            continue
        yield child
        yield from _run_nodes(child)


def _loads_heads(stage: str, root: Path) -> bool:
    tree = ast.parse(_file(f"pipeline.commands.{stage}", root).read_text())
    return any(
        isinstance(node, ast.ImportFrom)
        and node.level == 2
        and node.module == "heads.registry"
        and HEAD_LOADERS & {alias.name for alias in node.names}
        for node in ast.walk(tree)
    )


def modules_run(roots: list[str], root: Path = ROOT) -> set[str]:
    """Every project module that importing `roots` runs, parent packages included."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        module = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        stack += [".".join(parts[:i]) for i in range(1, len(parts))]
        stack += _imports(module, root)
    return seen


def stage_commands(root: Path = ROOT) -> dict[str, tuple[list[str], list[str]]]:
    """Stage name -> (argv after `python -m pipeline`, deps), with vars and foreach resolved by DVC."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {
            stage.addressing: (stage.cmd.split()[3:], [dep.def_path for dep in stage.deps])
            for stage in repo.index.stages
        }


def stage_files(argv: list[str], enabled: list[str], engine: str, root: Path = ROOT) -> list[str]:
    """Every project file `python -m pipeline ARGV` runs, with the heads and engine it names."""
    stage, rest = argv[0], argv[1:]
    modules = modules_run(["pipeline.__main__", f"pipeline.commands.{stage}"], root)
    if _loads_heads(stage, root):
        named = [a for a in rest[:1] if a in enabled]  # train <head>, evaluate <head>
        modules |= modules_run([f"pipeline.heads.{h}" for h in named or enabled], root)
    if ENGINE_REGISTRY in modules:
        modules |= modules_run([f"features.engines.{engine}"], root)
    return sorted(str(_file(m, root).relative_to(root)) for m in modules)


def uncovered(
    argv: list[str], deps: list[str], enabled: list[str], engine: str = "local", root: Path = ROOT
) -> list[str]:
    """Files the stage runs that none of its deps (a file, or a folder holding it) covers."""
    files = stage_files(argv, enabled, engine, root)
    covered = [Path(d).as_posix().rstrip("/") for d in deps]
    return [f for f in files if not any(f == d or f.startswith(d + "/") for d in covered)]


@pytest.fixture(scope="module")
def stages():
    return stage_commands()


@pytest.fixture(scope="module")
def params():
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture(scope="module")
def enabled(params):
    return params["heads"]["enabled"]


def test_every_stage_lists_the_code_it_runs(stages, enabled, params):
    engine = params["embed"]["engine"]
    missing = {name: uncovered(argv, deps, enabled, engine) for name, (argv, deps) in stages.items()}
    assert not {name: files for name, files in missing.items() if files}, (
        "add these to the stage's deps in dvc.yaml"
    )


def test_a_removed_dep_is_caught(stages, enabled):
    argv, deps = stages["train@mlp"]
    assert "pipeline/heads/mlp.py" in deps
    without = [d for d in deps if d != "pipeline/heads/mlp.py"]
    assert uncovered(argv, without, enabled) == ["pipeline/heads/mlp.py"]


def test_one_head_runs_only_its_own_module(stages, enabled):
    """Precise enough that editing one head re-runs only that head's stages."""
    for head in enabled:
        for name, (_argv, deps) in stages.items():
            mentions = [d for d in deps if d.startswith("pipeline/heads/") and Path(d).stem in enabled]
            if name in (f"train@{head}", f"evaluate@{head}"):
                assert mentions == [f"pipeline/heads/{head}.py"], name
            elif "@" in name:
                assert f"pipeline/heads/{head}.py" not in mentions, f"{name} would re-run when {head} changes"


def test_modules_run_follows_relative_and_function_level_imports(tmp_path):
    package = tmp_path / "pipeline"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .. import leaf\n")
    (package / "leaf.py").write_text("def f():\n    from .sub import deep\n")
    (package / "sub" / "deep.py").write_text("import json\n")
    (package / "alone.py").write_text("")
    assert modules_run(["pipeline.leaf"], tmp_path) == {
        "pipeline",
        "pipeline.leaf",
        "pipeline.sub",
        "pipeline.sub.deep",
    }


def test_a_stage_lists_no_code_it_does_not_run(stages, enabled, params):
    """Extra deps re-run a stage for nothing: embed, leakage, pca and report used to list the heads
    package, reached through an import cycle, and every stage the whole of `features/`, so
    editing `verify` re-ran everything. A code dep is a file: no folder of code."""
    engine = params["embed"]["engine"]
    extra = {}
    for name, (argv, deps) in stages.items():
        files = set(stage_files(argv, enabled, engine))
        if "@" in name:  # a foreach stage shares one list across its heads: any head's files count
            files |= {f for head in enabled for f in stage_files([argv[0], head, *argv[2:]], enabled, engine)}
        code = [d for d in deps if d.split("/")[0] in PACKAGES]
        extra[name] = [d for d in code if d not in files]
    assert not {name: files for name, files in extra.items() if files}, "remove these from dvc.yaml"


def test_editing_verify_or_the_ray_engine_re_runs_nothing(stages):
    """With the local engine, no stage depends on the store's maintenance commands or on Ray."""
    for name, (_argv, deps) in stages.items():
        for path in ("features/store/verify.py", "features/engines/ray.py", "features/commands/extract.py"):
            assert path not in deps, f"{name} would re-run when {path} changes"
