"""No import cycles among the project's modules, nor between its packages' layers."""

from __future__ import annotations

from tests.test_dvc_deps import ROOT, _imports


def _graph(package: str) -> dict[str, list[str]]:
    modules = []
    for path in sorted((ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules.append(name.removesuffix(".__init__"))
    return {m: [i for i in _imports(m, ROOT) if i.split(".")[0] == package] for m in modules}


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_through_others():
    for package in ("features", "pipeline"):
        assert _cycles(_graph(package)) == [], package


def test_files_stages_hand_each_other_do_not_reach_into_the_heads():
    """artifacts/ (embeddings.h5, predictions, ImageInputs, FeatureSource) sits below heads/."""
    graph = _graph("pipeline")
    reaching = {m: [i for i in imports if i.startswith("pipeline.heads")] for m, imports in graph.items()
                if m.startswith("pipeline.artifacts")}  # fmt: skip
    assert not {m: i for m, i in reaching.items() if i}


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


FEATURES_LAYERS = ["hashing", "images", "networks", "store", "extraction", "engines", "cli", "commands"]
ALLOWED_UPWARD = {  # (importer, the folder it reaches up to): why
    ("features.images.loader", "networks"): "the decoders ask networks/runtimes how many cores there are",
    ("features.extraction.extract", "engines"): "the public `extract` runs the local engine",
}


def _layer(module: str) -> tuple[str, int]:
    """A features module's folder and its place; modules beside the folders (exceptions,
    constants, locking) sit below them all, `__main__` with the CLI."""
    name = module.split(".")[1] if "." in module else ""
    name = "cli" if name == "__main__" else name
    return name, FEATURES_LAYERS.index(name) if name in FEATURES_LAYERS else -1


def test_each_features_folder_imports_only_the_folders_below_it():
    """features/__init__.py's promise: hashing, images, networks, store, extraction, engines,
    then the CLI and its commands, each importing only those before it."""
    upward = {
        (module, _layer(imported)[0])
        for module, imports in _graph("features").items()
        for imported in imports
        if _layer(imported)[1] > _layer(module)[1]
    }
    assert upward <= set(ALLOWED_UPWARD), sorted(upward - set(ALLOWED_UPWARD))
