"""The package's import graph goes one way: no module imports one that
imports it back, and no module imports one of a higher layer, lazy imports
inside functions included.

Layers, bottom first (`LAYERS`; an arrow may only point down or sideways):

    _registry, errors, ...         the model table, user errors, process settings; stdlib only
    layers, weights                weights import no model class
    models                         register in _registry; load weights= in constructors
    registry                       create_model / get_spec: imports the models
    spaces                         the families' search spaces, read through the registry
    runtime, flops                 per-processor defaults; parameter and FLOP counts
    data                           sources and input pipelines
    training, inference            configs and the training loop; run folders' models
    tuning, export, fold, benchmark*   the jobs built on them
    cli                            the front end; only __main__ imports it

The graph is read from the source (AST), so it needs no backend.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_resnets"


def _modules():
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _targets(node, module, is_package, modules):
    """Our modules an Import/ImportFrom node imports: `from a import b` is
    the submodule a.b when there is one, else a."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    found = {f"{base}.{alias.name}" for alias in node.names}
    return {name if name in modules else base for name in found} & set(modules)


def import_graph():
    """`module -> set of our modules it imports` (anywhere in the file,
    function bodies included)."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets |= _targets(node, module, path.name == "__init__.py", modules)
        graph[module] = targets - {module}
    return graph


def circles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _describe(component, graph):
    return "; ".join(
        f"{v} -> {', '.join(sorted(graph[v] & component))}" for v in sorted(component)
    )


def test_no_import_circle():
    graph = import_graph()
    found = circles(graph)
    assert not found, "import circle(s): " + " | ".join(_describe(c, graph) for c in found)


def test_circles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [frozenset({"a", "b", "c"})]
    assert "c -> a" in _describe(circles(graph)[0], graph)
    graph = import_graph()
    assert "keras_resnets.weights._layout" in graph["keras_resnets.weights.torch_checkpoints"]
    assert "keras_resnets.models" in graph["keras_resnets.registry"]  # inside a function


def _within(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# (importers, what they may not import, why)
RULES = [
    (("keras_resnets._registry",),
     lambda t: t != "keras_resnets.errors",
     "the model table is the bottom layer: listing models imports nothing of ours"),
    (("keras_resnets.weights",),
     lambda t: not _within(t, ["keras_resnets.weights", "keras_resnets.errors"]),
     "the models load weights in their constructors: weights sit below them"),
    (("keras_resnets.models",),
     lambda t: _within(t, ["keras_resnets.registry", "keras_resnets.training",
                           "keras_resnets.tuning", "keras_resnets.inference",
                           "keras_resnets.export", "keras_resnets.cli"]),
     "models register in keras_resnets._registry; create_model sits above them"),
    (("keras_resnets",), lambda t: t == "keras_resnets.cli",
     "cli is the front end: only __main__ imports it"),
]


@pytest.mark.parametrize("importers, forbidden, why", RULES,
                         ids=["_registry", "weights", "models", "cli"])
def test_imports_go_down(importers, forbidden, why):
    graph = import_graph()
    wrong = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if _within(source, importers) and source != "keras_resnets.__main__"
        for target in targets
        if forbidden(target)
    )
    assert not wrong, f"{why}; found: {', '.join(wrong)}"


# Bottom first; a module belongs to the first entry it is or lies inside.
LAYERS = [
    ("keras_resnets._registry", "keras_resnets._env",
     "keras_resnets._quiet", "keras_resnets._argtypes", "keras_resnets._lazy",
     "keras_resnets.errors"),
    ("keras_resnets.layers", "keras_resnets.weights"),
    ("keras_resnets.models",),
    ("keras_resnets.registry",),
    ("keras_resnets.spaces",),
    ("keras_resnets.runtime", "keras_resnets.flops"),
    ("keras_resnets.data",),
    ("keras_resnets.training", "keras_resnets.inference"),
    ("keras_resnets.tuning", "keras_resnets.export", "keras_resnets.fold",
     "keras_resnets.benchmark"),
    ("keras_resnets.cli",),
    ("keras_resnets.__main__",),
]
# The package itself is a lazy facade (its names resolve on first use):
# every module may read its `__version__`.
FACADE = "keras_resnets"


def layer_of(module, layers=LAYERS):
    for index, prefixes in enumerate(layers):
        if _within(module, prefixes):
            return index
    return None


def upward_imports(graph, layers=LAYERS):
    """`["source -> target", ...]`: imports of a module of a higher layer."""
    return sorted(
        f"{source} -> {target}"
        for source, targets in graph.items() if source != FACADE
        for target in targets if target != FACADE
        if layer_of(target, layers) > layer_of(source, layers)
    )


def test_every_module_has_a_layer():
    unplaced = [m for m in import_graph() if m != FACADE and layer_of(m) is None]
    assert not unplaced, f"put these modules in a layer of LAYERS: {unplaced}"


def test_no_import_from_a_lower_layer_to_a_higher_one():
    wrong = upward_imports(import_graph())
    assert not wrong, f"imports from a lower layer to a higher one: {', '.join(wrong)}"


def test_upward_imports_are_found():
    # The arrow issue 26 removed: a config check that read the tuner's module.
    graph = {"keras_resnets.training.config": {"keras_resnets.tuning.search_spaces",
                                               "keras_resnets.spaces.families"},
             "keras_resnets.tuning.search": {"keras_resnets.training.config", FACADE}}
    assert upward_imports(graph) == [
        "keras_resnets.training.config -> keras_resnets.tuning.search_spaces"]
