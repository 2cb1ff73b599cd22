"""Architecture figures for a Deskguard tree, as JSON.

    python scripts/arch_figures.py [ROOT] [--devkit PATTERN ...]

Prints: import cycles (strongly connected components of more than one module, plus modules
importing themselves; function-local imports count, ``if TYPE_CHECKING:`` imports do not),
product lines vs dev-kit lines (non-blank lines of ``.py``), the ten longest functions, the
number of functions over 50 lines and the README's line count.

The import graph comes from ``tests/test_architecture.py`` (loaded from this checkout, not from
ROOT, so an old tree is measured with today's rules).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import sys
from fnmatch import fnmatchcase
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

# Dev-kit files in both layouts: the new ``connector/devkit/`` and where they lived before.
# A pattern ending in "/" is a directory prefix; otherwise it is matched segment by segment.
DEVKIT_PATTERNS = (
    "connector/devkit/",
    "connector/sandbox/",
    "connector/bench.py",
    "connector/demo.py",
    "connector/pipeline/testing.py",
    "connector/*/bench*.py",
    "connector/commerce/*_bench.py",
    "connector/panel/bench.py",
    # Old layout: `deskguard sandbox anthropic` and `bench redact|claude` (now devkit/bench/claude)
    "connector/classify/claude_cli.py",
)
CODE_DIRS = ("connector", "adapters", "migrations")
LONG_FUNCTION = 50


def _load_architecture():
    path = HERE / "tests" / "test_architecture.py"
    spec = importlib.util.spec_from_file_location("deskguard_test_architecture", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def matches(rel: str, pattern: str) -> bool:
    if pattern.endswith("/"):
        return rel.startswith(pattern)
    parts, wanted = rel.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(map(fnmatchcase, parts, wanted))


def python_files(root: Path) -> list[Path]:
    return sorted(
        p
        for d in CODE_DIRS
        if (root / d).is_dir()
        for p in (root / d).rglob("*.py")
        if "__pycache__" not in p.parts
    )


def nonblank(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def functions(path: Path, rel: str):
    """(qualified name, file:line, lines) of every def, nested ones and methods included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    yield name, f"{rel}:{child.lineno}", child.end_lineno - child.lineno + 1
                stack.append((child, name + "."))
            else:
                stack.append((child, prefix))


def figures(root: Path, devkit_patterns=DEVKIT_PATTERNS) -> dict:
    arch = _load_architecture()
    graph = arch.build_graph(root)
    cycles = arch.find_cycles(graph.edges)
    # The same graph with only module-level imports (what a reader of the import blocks sees).
    top_level = arch.build_graph(root)
    for name, path in top_level.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stack, keep = list(tree.body), set()
        while stack:  # module level: the body and any if/try blocks in it, not defs/classes
            node = stack.pop()
            if isinstance(node, ast.Import | ast.ImportFrom):
                keep.add(node.lineno)
            elif isinstance(node, ast.If) and arch._is_type_checking(node.test):
                stack.extend(node.orelse)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                stack.extend(
                    n
                    for field in ("body", "orelse", "finalbody", "handlers")
                    for n in getattr(node, field, ())
                )
            elif isinstance(node, ast.ExceptHandler):
                stack.extend(node.body)
        top_level.edges[name] = {
            dst for dst in top_level.edges[name] if set(top_level.lines[(name, dst)]) & keep
        }
    top_level_cycles = arch.find_cycles(top_level.edges)

    product = devkit = 0
    product_files = devkit_files = 0
    funcs = []
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        n = nonblank(path)
        if rel.startswith("connector/") and any(matches(rel, p) for p in devkit_patterns):
            devkit, devkit_files = devkit + n, devkit_files + 1
        else:
            product, product_files = product + n, product_files + 1
        funcs.extend(functions(path, rel))
    funcs.sort(key=lambda f: (-f[2], f[1]))
    readme = root / "README.md"
    return {
        "root": str(root),
        "modules": len(graph.modules),
        "edges": graph.edge_count,
        "import_cycles": len(cycles),
        "cycle_modules": [{"size": len(c), "self_loop": len(c) == 1, "modules": c} for c in cycles],
        "modules_in_cycles": sum(len(c) for c in cycles),
        "mutual_import_pairs": sorted(
            f"{a} <-> {b}"
            for a in graph.edges
            for b in graph.edges[a]
            if a < b and a in graph.edges.get(b, ())
        ),
        "import_cycles_module_level_only": len(top_level_cycles),
        "cycle_sizes_module_level_only": [len(c) for c in top_level_cycles],
        "product_lines": product,
        "product_files": product_files,
        "devkit_lines": devkit,
        "devkit_files": devkit_files,
        "devkit_patterns": list(devkit_patterns),
        "longest_functions": [
            {"name": name, "where": where, "lines": lines} for name, where, lines in funcs[:10]
        ],
        "functions": len(funcs),
        "functions_over_50_lines": sum(1 for f in funcs if f[2] > LONG_FUNCTION),
        "readme_lines": (
            len(readme.read_text(encoding="utf-8").splitlines()) if readme.exists() else None
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument(
        "--devkit",
        nargs="+",
        default=list(DEVKIT_PATTERNS),
        metavar="PATTERN",
        help="dev-kit paths (relative to ROOT; 'dir/' is a prefix, else a per-segment glob)",
    )
    args = parser.parse_args(argv)
    print(json.dumps(figures(args.root.resolve(), tuple(args.devkit)), indent=2))


if __name__ == "__main__":
    main()
