"""The shape of the package, read from its source: no import cycles (imports inside functions count), no module
importing another's _private names, and the planner and its value objects import nothing that runs processes,
touches the network or reads files.

The walker reads every `import` and `from ... import` anywhere in a module (top level, functions, TYPE_CHECKING
blocks) with ast, so an import hidden in a function cannot hide a cycle. Run this file directly to print the
import graph: python tests/test_imports.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pybootstrap"

#: Modules that must stay pure: they may import only each other (and the standard library's pure parts,
#: packaging), so the planner can be tested from hand-built values and `plan` never runs a process by accident.
PURE = {
    "pybootstrap.planner": "the planner: (manifest, hardware, request) -> plan",
    "pybootstrap.plan_model": "the planner's values (Request, Build, Chosen / NoBuild)",
    "pybootstrap.plan_reasons": "the wording of the planner's reasons",
    "pybootstrap.manifest_model": "the manifest model",
    "pybootstrap.manifest_expand": "the hand-written manifest expanded into the model",
    "pybootstrap.manifest_schema": "the JSON Schema walker that validates a manifest",
    "pybootstrap.machine": "the hardware model (Gpu, DetectIssue, Hardware)",
    "pybootstrap.hardware_rules": "the rules read from probed text",
    "pybootstrap.nvidia_smi": "the nvidia-smi parsers",
    "pybootstrap.failures": "the classifier of failure texts and the advice table",
    "pybootstrap.judge": "the verification verdict from a probe's answers",
    "pybootstrap.diagnose": "known failure texts and facts -> findings",
    "pybootstrap.versions": "the version-prefix matcher",
    "pybootstrap.redact": "the secret masking rules",
    "pybootstrap.errors": "the errors and exit codes",
}
#: Modules of PURE that still import an impure one, each with why (strict: an unexpected pass fails, so an
#: entry must go once its module is pure). Empty now: the models, loaders and probes live in modules of their own.
NOT_YET_PURE: Dict[str, str] = {}
#: What a pure module must never reach: running processes, the network, the probe and I/O modules.
FORBIDDEN = {"subprocess", "requests", "socket", "urllib3", "http", "ssl", "pybootstrap._subprocess",
             "pybootstrap._download", "pybootstrap._probe", "pybootstrap.report", "pybootstrap.environments"}


def module_name(path: Path) -> str:
    """pybootstrap/installers/pip.py -> pybootstrap.installers.pip; __init__.py is its package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> Dict[str, Path]:
    """Every module of the package, by name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = package_modules()


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module a `from X import ...` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")[: len(importer.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _internal(name: str) -> Optional[str]:
    """The deepest pybootstrap module a dotted name refers to (None for other packages)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _private(name: str) -> bool:
    """_name is private; __version__ and other dunders are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class Imports:
    """What one module imports: pybootstrap modules, other top-level packages, and private names."""

    def __init__(self, name: str, source: Optional[str] = None) -> None:
        self.name = name
        self.internal: Set[str] = set()
        self.external: Set[str] = set()
        self.private: List[str] = []  # "line N: from pybootstrap.x import _y"
        path = MODULES.get(name)
        if source is None:
            assert path is not None
            source = path.read_text(encoding="utf-8")
        is_package = path is not None and path.name == "__init__.py"
        tree = ast.parse(source, str(path or name))
        aliases: Dict[str, str] = {}  # local name -> pybootstrap module
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._add(alias.name)
                    if alias.asname and _internal(alias.name) == alias.name:
                        aliases[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                source_module = _absolute(node, name, is_package)
                for alias in node.names:
                    full = f"{source_module}.{alias.name}"
                    if full in MODULES:  # `from pybootstrap import _subprocess`: a module, not a name
                        self._add(full)
                        aliases[alias.asname or alias.name] = full
                        continue
                    self._add(source_module)
                    if _private(alias.name) and _internal(source_module) == source_module != name:
                        self.private.append(f"line {node.lineno}: from {source_module} import {alias.name}")
        for node in ast.walk(tree):  # module._name, where module is a pybootstrap module bound above
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and _private(node.attr) and f"{aliases[node.value.id]}.{node.attr}" not in MODULES):
                self.private.append(f"line {node.lineno}: {node.value.id}.{node.attr}")

    def _add(self, dotted: str) -> None:
        internal = _internal(dotted)
        if internal is not None:
            if internal != self.name:
                self.internal.add(internal)
        elif dotted:
            self.external.add(dotted.split(".")[0])


GRAPH: Dict[str, Imports] = {name: Imports(name) for name in MODULES}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


# --- the walker itself, on hand-made graphs and sources -----------------------------------------

@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b", "c"}, "b": {"c"}, "c": set(), "x": {"y"}, "y": {"x"}}, [["x", "y"]]),
], ids=["chain", "pair", "triangle", "one-of-two"])
def test_cycles_finds_every_loop(graph: Dict[str, Set[str]], expected: List[List[str]]) -> None:
    assert cycles(graph) == expected


def test_the_walker_sees_imports_inside_functions_and_private_names() -> None:
    source = ("from typing import TYPE_CHECKING\n"
              "from pybootstrap import render, _subprocess\n"
              "if TYPE_CHECKING:\n"
              "    from pybootstrap.planner import Plan\n"
              "def f(p):\n"
              "    from pybootstrap.install import _steps\n"
              "    import subprocess\n"
              "    p._replace(x=1)\n"
              "    return render._VERBOSITY\n")
    seen = Imports("pybootstrap.made_up", source)
    assert seen.internal == {"pybootstrap.render", "pybootstrap._subprocess", "pybootstrap.planner",
                             "pybootstrap.install"}
    assert seen.external == {"typing", "subprocess"}
    assert seen.private == ["line 6: from pybootstrap.install import _steps", "line 9: render._VERBOSITY"]


# --- the package ------------------------------------------------------------------------------

def test_the_package_has_no_import_cycle() -> None:
    graph = {name: imports.internal for name, imports in GRAPH.items()}
    assert cycles(graph) == []


def test_no_module_imports_another_modules_private_names() -> None:
    found = {name: imports.private for name, imports in GRAPH.items() if imports.private}
    assert found == {}


def test_only_cli_sees_the_command_line_parser() -> None:
    assert sorted(name for name, imports in GRAPH.items() if "argparse" in imports.external) == ["pybootstrap.cli"]


def _pure_param(name: str) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=NOT_YET_PURE[name])] if name in NOT_YET_PURE else []
    return pytest.param(name, marks=marks, id=name.split(".", 1)[1])


@pytest.mark.parametrize("name", [_pure_param(n) for n in PURE])
def test_pure_modules_import_only_pure_modules(name: str) -> None:
    imports = GRAPH[name]
    assert sorted(imports.internal - set(PURE)) == [], f"{name} ({PURE[name]}) imports impure modules"
    assert sorted(imports.external & FORBIDDEN) == [], f"{name} ({PURE[name]}) imports processes or network"


def test_the_pure_list_names_real_modules() -> None:
    assert sorted(set(PURE) - set(MODULES)) == []
    assert sorted(set(NOT_YET_PURE) - set(PURE)) == []


def graph_text() -> str:
    """module -> the pybootstrap modules it imports, one line each."""
    def short(module: str) -> str:
        return module.split(".", 1)[1] if "." in module else module

    return "\n".join(f"{short(name)} -> {', '.join(sorted(short(m) for m in imports.internal)) or '-'}"
                     for name, imports in sorted(GRAPH.items()))


if __name__ == "__main__":
    print(graph_text())
    found: List[Tuple[str, List[str]]] = [(n, i.private) for n, i in GRAPH.items() if i.private]
    print("cycles:", cycles({n: i.internal for n, i in GRAPH.items()}) or "none")
    print("private imports:", found or "none")
    sys.exit(0)
