"""The package's imports run one way only: from presentation down to the pure parts.

Every import counts — module level, inside functions, under ``TYPE_CHECKING`` — since a
function-local import that climbs back up is still a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "hailuo_nb"

# Top to bottom: the folders are the layers. A module may import its own layer or any layer
# below, never one above. A new module inherits its folder's layer: nothing to keep by hand.
LAYERS = [
    ("package face", ["hailuo_nb"]),
    ("presentation", ["hailuo_nb.magics", "hailuo_nb.widgets", "hailuo_nb._presentation",
                      "hailuo_nb.cli"]),
    ("public API", ["hailuo_nb.api"]),
    ("engine", ["hailuo_nb._engine"]),
    ("model", ["hailuo_nb.task"]),
    ("client / history", ["hailuo_nb._client", "hailuo_nb._history"]),
    ("media", ["hailuo_nb._media"]),
    ("pure parts", ["hailuo_nb.request", "hailuo_nb.errors", "hailuo_nb.settings",
                    "hailuo_nb._pure", "hailuo_nb._version"]),
    # The stand-in service is a layer of its own at the bottom: it imports nothing of the
    # client it tests, so a mistake cannot hide in code both share.
    ("emulator", ["hailuo_nb.emulator"]),
]


def layer_of(module: str) -> int:
    """The layer of the longest prefix that holds ``module`` (a package holds its tree)."""
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            holds = module == prefix or module.startswith(prefix + ".")
            if holds and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank)
    if best is None:
        raise AssertionError(f"{module} is in no layer: put it in a layer's folder")
    return best[1]


def modules_in(package_dir: Path) -> dict[str, Path]:
    """Every module of the tree under ``package_dir``, by its dotted name."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = modules_in(PACKAGE_DIR)


def imports_of(module: str, modules: dict[str, Path] = MODULES) -> set[str]:
    """Every package module that ``module`` imports, wherever the import stands."""
    path = modules[module]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # `from . import api` imports the module hailuo_nb.api, not the package.
            names = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in modules else origin
                     for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # `import hailuo_nb.emulator.server` etc.
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def upward_imports(modules: dict[str, Path]) -> list[str]:
    """Each import in the tree that climbs to a higher layer, as a readable line."""
    graph = {module: imports_of(module, modules) for module in modules}
    return sorted(
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
        f"({LAYERS[layer_of(target)][0]})"
        for module, targets in graph.items() for target in targets
        if layer_of(target) < layer_of(module)
    )


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_points_upward(module):
    here = layer_of(module)
    upward = sorted(
        f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for target in GRAPH[module] if layer_of(target) < here
    )
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    circles = [sorted(c) for c in strongly_connected(GRAPH) if len(c) > 1]
    assert not circles, f"import circles: {circles}"


def test_the_checker_reads_a_tree_and_sees_upward_imports(tmp_path):
    """A made-up tree: a pure part that climbs to the API (inside a function), and an emulator
    that borrows the client's code, are both caught; a downward import is not."""
    package = tmp_path / "hailuo_nb"
    for folder in ("_pure", "_client", "emulator"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "api.py").write_text("from ._pure import words\n")
    (package / "_pure" / "words.py").write_text("def f():\n    from ..api import generate\n")
    (package / "_client" / "client.py").write_text("X = 1\n")
    (package / "emulator" / "server.py").write_text("from .._client.client import X\n")
    found = upward_imports(modules_in(package))
    assert found == [
        "hailuo_nb._pure.words (pure parts) imports hailuo_nb.api (public API)",
        "hailuo_nb.emulator.server (emulator) imports hailuo_nb._client.client "
        "(client / history)",
    ]
    assert upward_imports(MODULES) == []


def test_the_checker_sees_circles_and_upward_imports():
    """The two checks above can fail: a made-up graph with both is caught."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert [sorted(c) for c in strongly_connected(graph) if len(c) > 1] == [["a", "b", "c"]]
    assert "hailuo_nb.api" in imports_of("hailuo_nb.magics.core")
    assert layer_of("hailuo_nb.task") > layer_of("hailuo_nb.api")


def test_no_submodule_hides_a_public_name_of_the_package():
    """`import hailuo_nb.<module>` sets that attribute on the package: a module named like a
    public function (history, report) would replace the function for everyone after it."""
    import importlib

    import hailuo_nb

    # `hailuo_nb.settings` is that on purpose: the module reads and writes the one object.
    public = set(hailuo_nb.__all__) - {"settings"}
    clashes = sorted(m.rpartition(".")[2] for m in MODULES if m.count(".") == 1
                     and m.rpartition(".")[2] in public)
    assert not clashes, f"modules named like public names: {clashes}"
    for module in MODULES:
        if module.count(".") == 1 and not module.endswith("__main__"):
            importlib.import_module(module)
    for name in public:
        assert not isinstance(getattr(hailuo_nb, name), type(hailuo_nb)), name


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on a big package)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                result.append(component)
    return result


def test_the_tests_never_import_the_benchmarks():
    """Measurement lives in bench/; bench may use the tests' helpers, never the other way."""
    tests_dir = PACKAGE_DIR.parent / "tests"
    bench_modules = {p.stem for p in (PACKAGE_DIR.parent / "bench").glob("*.py")}
    found = []
    for path in sorted(tests_dir.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [(node.module or "").split(".")[0]]
            elif (isinstance(node, ast.Call)
                  and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                      "spec_from_file_location", "insert", "import_module")
                  and "bench" in (ast.get_source_segment(source, node) or "")):
                names = ["bench (loaded by path)"]
            found += [f"{path.name}: {name}" for name in names
                      if name in bench_modules or name.startswith("bench")]
    assert not found, found
