"""Architecture rules, checked on the import graph read from the source with ``ast``.

Nothing here imports our modules: the graph comes from the text of every ``.py`` file under
``connector/``, ``adapters/`` and ``migrations/``. Every ``import`` statement counts, wherever it
sits (module body, function, class, ``try``), except the ones under ``if TYPE_CHECKING:`` (they
never run). An edge goes to the deepest module a statement names: ``from pkg import name`` is
``pkg.name`` when that is a module of ours, else ``pkg``; a package's ``__init__.py`` is the
module ``pkg``. No implicit edges go to parent packages (``import a.b.c`` does run ``a/__init__``
and ``a/b/__init__``, but counting that would make every package ``__init__`` part of a cycle).

Imports by string (``importlib.import_module("connector.x")``) are invisible here by design.

``scripts/arch_figures.py`` reuses the builder (``build_graph``, ``find_cycles``).
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("connector", "adapters", "migrations")

CORE = tuple(
    f"connector.{name}"
    for name in (
        "db",
        "queue",
        "worker",
        "actions",
        "audit",
        "secrets",
        "tenants",
        "settings",
        "domain",
        "errors",
        "logs",
        "timeutil",
        "waits",
        "audit_keys",
        "backup",
        "api_versions",
        "webhook_shapes",
        "leases",
        "pg",
    )
)
COMPOSITION = tuple(f"connector.{name}" for name in ("runtime", "services", "jobs", "web", "cli"))
DEVKIT = "connector.devkit"
# The one place product code may reach the dev kit: the CLI root adds its commands.
DEVKIT_ALLOWED = {("connector.cli", "connector.devkit.cli")}
VENDOR_SDKS = frozenset({"zenpy", "shopify", "stripe", "anthropic", "shopify_app", "shopifyapp"})


# --- the graph builder --------------------------------------------------------------------
@dataclass
class Graph:
    root: Path
    packages: tuple[str, ...]
    modules: dict[str, Path]  # module name -> file (a package is its __init__.py)
    namespaces: set[str]  # directories of ours without __init__.py (namespace packages)
    edges: dict[str, set[str]] = field(default_factory=dict)  # ours -> ours
    external: dict[str, set[str]] = field(default_factory=dict)  # ours -> third-party top names
    lines: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # edge -> linenos

    @property
    def edge_count(self) -> int:
        return sum(len(targets) for targets in self.edges.values())

    def where(self, src: str, dst: str) -> str:
        path = self.modules[src].relative_to(self.root).as_posix()
        return f"{path}:{','.join(map(str, sorted(set(self.lines.get((src, dst), [])))))}"


def discover_modules(
    root: Path, packages: Iterable[str] = PACKAGES
) -> tuple[dict[str, Path], set[str]]:
    """Every module of ours (name -> file) and every namespace directory (no __init__.py)."""
    modules: dict[str, Path] = {}
    namespaces: set[str] = set()
    for package in packages:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root)
            if "__pycache__" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
        for directory in [base, *sorted(p for p in base.rglob("*") if p.is_dir())]:
            rel = directory.relative_to(root)
            if "__pycache__" in rel.parts or not any(directory.glob("*.py")):
                continue
            if not (directory / "__init__.py").exists():
                namespaces.add(".".join(rel.parts))
    return modules, namespaces


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return False


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: anywhere in the tree, except under TYPE_CHECKING."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If):
            test = node.test
            if _is_type_checking(test):  # if TYPE_CHECKING: <skipped> else: <runs>
                stack.extend(reversed(node.orelse))
                continue
            if (
                isinstance(test, ast.UnaryOp)
                and isinstance(test.op, ast.Not)
                and _is_type_checking(test.operand)
            ):  # if not TYPE_CHECKING: <runs> else: <skipped>
                stack.extend(reversed(node.body))
                continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def module_imports(
    source: str, name: str, is_package: bool, known: set[str], packages: Iterable[str]
) -> Iterator[tuple[str, bool, int]]:
    """(target, is_ours, lineno) for each runtime import in one module's source.

    ``known`` is every module and namespace directory of ours; a target of ours is the deepest
    known module the statement names; a third-party target is its top-level name.
    """
    ours = set(packages)

    def deepest(dotted: str) -> str:
        parts = dotted.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        return ".".join(parts) or dotted

    tree = ast.parse(source)
    for node in runtime_imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in ours:
                    yield deepest(alias.name), True, node.lineno
                else:
                    yield top, False, node.lineno
            continue
        if node.level:
            package = name.split(".") if is_package else name.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            base = ".".join([*package, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        top = base.split(".")[0]
        if not node.level and top not in ours:
            yield top, False, node.lineno
            continue
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            yield (
                (candidate if candidate in known else deepest(base)),
                True,
                node.lineno,
            )


def build_graph(root: Path = REPO_ROOT, packages: Iterable[str] = PACKAGES) -> Graph:
    packages = tuple(packages)
    modules, namespaces = discover_modules(root, packages)
    known = set(modules) | namespaces
    graph = Graph(root=root, packages=packages, modules=modules, namespaces=namespaces)
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        graph.edges.setdefault(name, set())
        graph.external.setdefault(name, set())
        source = path.read_text(encoding="utf-8")
        for target, is_ours, lineno in module_imports(source, name, is_package, known, packages):
            if is_ours:
                graph.edges[name].add(target)
                graph.lines.setdefault((name, target), []).append(lineno)
            else:
                graph.external[name].add(target)
    return graph


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or one module importing itself
    (iterative Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    nodes = sorted(set(edges) | {t for targets in edges.values() for t in targets})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    components.append(sorted(component))
    return sorted(components, key=lambda c: (-len(c), c))


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def is_area(module: str, root: Path = REPO_ROOT) -> bool:
    """Anything in a subpackage ``connector.<pkg>`` (a directory), core or not."""
    parts = module.split(".")
    return len(parts) >= 2 and parts[0] == "connector" and (root / "connector" / parts[1]).is_dir()


# --- the rules ----------------------------------------------------------------------------
GRAPH = build_graph()


def _listing(pairs: Iterable[tuple[str, str]], graph: Graph = GRAPH) -> str:
    return "\n".join(f"  {src} -> {dst}  ({graph.where(src, dst)})" for src, dst in sorted(pairs))


def test_no_import_cycles():
    cycles = find_cycles(GRAPH.edges)
    detail = "\n".join(
        f"  {len(c)} modules: {', '.join(c)}"
        if len(c) > 1
        else f"  {c[0]} imports itself ({GRAPH.where(c[0], c[0])})"
        for c in cycles
    )
    assert not cycles, f"{len(cycles)} import cycle(s) (function-local imports count):\n{detail}"


def test_core_modules_import_no_area():
    offenders = [
        (src, dst)
        for src in CORE
        for dst in GRAPH.edges.get(src, ())
        if is_area(dst) or any(in_package(dst, layer) for layer in COMPOSITION)
    ]
    missing = [m for m in CORE if m not in GRAPH.modules]
    assert not missing, f"core modules not found (renamed?): {missing}"
    assert not offenders, (
        "core modules import an area or the composition layer "
        "(only allowed under TYPE_CHECKING):\n" + _listing(offenders)
    )


def test_product_code_does_not_import_the_dev_kit():
    edges = {
        (src, dst)
        for src, targets in GRAPH.edges.items()
        if not in_package(src, DEVKIT)
        for dst in targets
        if in_package(dst, DEVKIT)
    }
    offenders = edges - DEVKIT_ALLOWED
    assert not offenders, (
        "product code imports the dev kit (only connector.cli -> connector.devkit.cli is "
        "allowed):\n" + _listing(offenders)
    )
    assert edges <= DEVKIT_ALLOWED, f"unexpected dev-kit edges: {sorted(edges)}"


def test_vendor_sdks_only_in_adapters():
    offenders = [
        (src, sdk)
        for src, names in sorted(GRAPH.external.items())
        if not in_package(src, "adapters")
        for sdk in sorted(names & VENDOR_SDKS)
    ]
    detail = "\n".join(
        f"  {src} imports {sdk}  ({GRAPH.modules[src].relative_to(REPO_ROOT).as_posix()})"
        for src, sdk in offenders
    )
    assert not offenders, f"vendor SDKs imported outside adapters/:\n{detail}"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_the_graph_sees_function_local_and_skips_type_checking_imports(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": """
                from __future__ import annotations
                import typing
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from pkg import hidden
                if typing.TYPE_CHECKING:
                    import pkg.hidden2
                else:
                    import pkg.runs_else

                def f():
                    from . import b
                    return b
                """,
            "pkg/b.py": """
                class C:
                    def m(self):
                        import pkg.a
                        import stripe
                """,
            "pkg/hidden.py": "",
            "pkg/hidden2.py": "",
            "pkg/runs_else.py": "",
            "pkg/sub/__init__.py": "from .leaf import thing\nfrom .. import a\n",
            "pkg/sub/leaf.py": "thing = 1\n",
            "pkg/ns/mod.py": "from pkg.sub import leaf, thing\n",
        },
    )
    graph = build_graph(tmp_path, packages=("pkg",))
    assert graph.edges["pkg.a"] == {"pkg.b", "pkg.runs_else"}, graph.edges["pkg.a"]
    assert graph.edges["pkg.b"] == {"pkg.a"}, graph.edges["pkg.b"]
    assert graph.external["pkg.b"] == {"stripe"}
    assert graph.edges["pkg.sub"] == {"pkg.sub.leaf", "pkg.a"}, graph.edges["pkg.sub"]
    assert graph.edges["pkg.ns.mod"] == {"pkg.sub.leaf", "pkg.sub"}, graph.edges["pkg.ns.mod"]
    assert "pkg.ns" in graph.namespaces
    assert find_cycles(graph.edges) == [["pkg.a", "pkg.b"]]
    assert find_cycles({"x": {"x"}, "y": set()}) == [["x"]]

    # ... and the real graph is big enough that the rules above are not passing on nothing.
    assert len(GRAPH.modules) > 100, f"only {len(GRAPH.modules)} modules found"
    assert GRAPH.edge_count > 200, f"only {GRAPH.edge_count} edges found"
    assert all(m in GRAPH.modules for m in CORE), "core modules missing from the graph"


def test_no_module_of_ours_is_imported_by_string():
    """The graph cannot see ``importlib.import_module("connector.x")``; so none may exist."""
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = ast.unparse(node.func)
                if name in ("importlib.import_module", "import_module", "__import__"):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert not offenders, "imports by string hide the wiring: " + ", ".join(offenders)
