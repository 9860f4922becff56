"""pyproject.toml is honest: every package the code imports is declared.

The package's own imports must be in ``dependencies`` (or, for an import guarded because
only some installs have it, in an extra); the tests' and benches' imports in the ``test``
extra. Standard-library modules are ignored; ``google.colab`` is what Colab provides.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parent.parent
PROVIDED = {"google"}  # Colab's own module: present there, never installed from PyPI


def _names(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {_names(s) for s in project["dependencies"]}
    extras = {_names(s) for specs in project["optional-dependencies"].values() for s in specs}
    return core, extras


def _imports(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", "hailuo_nb"}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    known = packages_distributions()
    return {m: {d.lower().replace("_", "-") for d in known.get(m, [])} for m in modules}


def test_every_import_of_the_package_is_a_declared_dependency():
    core, extras = _declared()
    missing = {}
    for module, dists in _distributions(_imports(REPO / "hailuo_nb") - PROVIDED).items():
        if not dists:  # not installed here: only its own extra can name it
            dists = {module}
        if not dists & (core | extras):
            missing[module] = sorted(dists)
    assert not missing, f"imported by hailuo_nb but not declared in pyproject.toml: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["tests", "bench"])
def test_every_import_of_the_tests_and_benches_is_declared(folder):
    core, extras = _declared()
    local = {p.stem for p in (REPO / "tests").glob("*.py")} | {
        p.stem for p in (REPO / folder).glob("*.py")}  # benches use the tests' helpers
    missing = {}
    for module, dists in _distributions(_imports(REPO / folder) - local - PROVIDED).items():
        if not dists & (core | extras):
            missing[module] = sorted(dists) or "not installed"
    assert not missing, f"imported by {folder}/ but not declared in pyproject.toml: {missing}"
