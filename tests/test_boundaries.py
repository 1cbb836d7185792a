"""What the product's packages may depend on: nothing under benchmarks/.

The load benchmark extends the product (benchmarks/settings.py, benchmarks/urls.py); the product
must run, and ship, without it (pyproject.toml packages directory, scim_api and lifecycle only).
Read from the source, so that an import inside a function, or a dotted path Django imports for us
(``ROOT_URLCONF``, ``INSTALLED_APPS``, a handler), counts as much as one at the top of a module.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("directory", "scim_api", "lifecycle")
BENCHMARKS = re.compile(r"benchmarks(\.\w+)*")


def benchmark_references(source: str) -> list[tuple[int, str]]:
    """(line, what) for each import of benchmarks, and each string that is a dotted path into it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        found += [(node.lineno, name) for name in names if BENCHMARKS.fullmatch(name)]
    return found


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_imports_nothing_from_benchmarks(package):
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, f"no modules under {package}/"
    found = [
        f"{module.relative_to(ROOT)}:{line}: {name}"
        for module in modules
        for line, name in benchmark_references(module.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "import benchmarks.floor",
        "from benchmarks import floor",
        "from benchmarks.floor import FloorView",
        "def f():\n    from benchmarks.floor import FloorView",
        'ROOT_URLCONF = "benchmarks.urls"',
        'import_module("benchmarks")',
    ],
)
def test_the_scan_sees_each_way_of_depending_on_benchmarks(source):
    assert benchmark_references(source)


def test_the_scan_ignores_what_only_names_benchmarks():
    source = '"""Measured by benchmarks/floor.py."""\nimport benchmarking\nfrom .benchmarks import x'
    assert benchmark_references(source) == []
