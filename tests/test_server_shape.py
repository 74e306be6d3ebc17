"""The server package's shape: its modules import one another one way, in layers, and none runs SQL.

Read from the source with :mod:`ast` (nothing is imported), so the test is instant and sees every import,
at module level or inside a function. The layers and why are in docs/architecture.md ("The server's layers").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[1] / "src" / "clusteratlas" / "server"
PACKAGE = "clusteratlas.server"

#: Each server module's layer: a module may import server modules of lower layers only.
LAYERS = {
    "formats": 0,  # how a table is encoded (JSON, CSV, Parquet, Excel)
    "headers": 0,  # the security headers
    "language": 0,  # a request's language
    "auth": 0,  # tokens: hashing, checking, roles (their rows: clusteratlas.store.tokens)
    "contract": 1,  # the vocabulary: answer models, problem documents, formats, scope keys
    "cache": 2,  # the cache of encoded answers
    "warm": 2,  # its warm-up
    "timeouts": 2,  # connection limits (uvicorn's protocol)
    "service": 3,  # the served atlas: readers and the one writer
    "problems": 4,  # errors as problem documents
    "guard": 4,  # the guard middleware and the caller
    "answering": 4,  # how a read is answered (object/table, cache headers, worker threads)
    "routes": 5,  # the read routes
    "writes": 5,  # the write routes
    "web": 5,  # the pages and their JSON twins
    "app": 6,  # the assembly: create_app, Settings
    "__init__": 7,  # the public API (Settings, create_app)
}
#: Calls on a connection allowed in server/, each with its reason (none today: the SQL lives in store/ and
#: queries/; a new entry needs a reason the review accepts).
SQL_ALLOWED: dict[tuple[str, str], str] = {}


def _modules(root: Path = SERVER) -> dict[str, Path]:
    """Every Python module of the server package, by its name within the package (``web`` for
    ``web/__init__.py``, ``web.pages`` for ``web/pages.py``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: set[str]) -> str | None:
    """The server module ``clusteratlas.server.<name>`` stands for (its longest known prefix), else None."""
    if name == PACKAGE:
        return "__init__"
    if not name.startswith(PACKAGE + "."):
        return None
    rest = name[len(PACKAGE) + 1:].split(".")
    for n in range(len(rest), 0, -1):
        if ".".join(rest[:n]) in known:
            return ".".join(rest[:n])
    return None


def _package_of(module: str, path: Path) -> str:
    """The dotted package a module's relative imports start from."""
    inner = module.split(".") if module != "__init__" else []
    if path.name != "__init__.py":
        inner = inner[:-1]
    return ".".join([PACKAGE, *inner])


def imports(root: Path = SERVER) -> dict[str, set[tuple[str, int]]]:
    """For each server module, the server modules it imports (with the line), at any depth of its code:
    ``import clusteratlas.server.x``, ``from clusteratlas.server.x import y``, ``from clusteratlas.server import x``
    and relative imports."""
    modules = _modules(root)
    known = set(modules)
    graph: dict[str, set[tuple[str, int]]] = {}
    for module, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_resolve(a.name, known) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = _package_of(module, path).split(".")
                    base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
                # `from x import y`: the module y when there is one, else x
                targets = [_resolve(f"{base}.{a.name}", known) or _resolve(base, known) for a in node.names]
            edges |= {(t, node.lineno) for t in targets if t is not None and t != module}
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[tuple[str, int]]]) -> list[list[str]]:
    """The import cycles of a graph (each once, as a path that returns to its start)."""
    found, seen = [], set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target, _line in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycle = [*path[path.index(target):], target]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif state.get(target) is None:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def layer_breaches(graph: dict[str, set[tuple[str, int]]], layers: dict[str, int]) -> list[str]:
    """Every import of a module of the same or a higher layer, as 'module:line imports target'."""
    return sorted(f"{m}:{line} imports {t} (layer {layers[t]} >= {layers[m]})" for m, edges in graph.items()
                  for t, line in edges if layers[t] >= layers[m])


def sql_calls(root: Path = SERVER) -> list[tuple[str, str, int]]:
    """Calls of ``.execute(`` or ``.sql(`` in the server's modules: (module, method, line)."""
    found = []
    for module, path in _modules(root).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute", "executemany", "sql")):
                found.append((module, node.func.attr, node.lineno))
    return found


# ------------------------------------------------------------------- the checks of the tools themselves
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_graph_sees_every_form_of_import_and_the_cycles_they_make(tmp_path):
    """A made-up package: module-level, function-level, package-relative and `from package import module`
    imports are all edges; a cycle through a function-level import is a cycle."""
    root = _package(tmp_path, {
        "__init__.py": "from clusteratlas.server.app import create_app\n",
        "app.py": "def f():\n    from clusteratlas.server.routes import router\n",
        "routes.py": "from clusteratlas.server import app\nimport json\n",
        "web/__init__.py": "from . import pages\nfrom ..contract import X\n",
        "web/pages.py": "import clusteratlas.server.contract\n",
        "contract.py": "X = 1\n"})
    graph = {m: {t for t, _ in edges} for m, edges in imports(root).items()}
    assert graph == {"__init__": {"app"}, "app": {"routes"}, "routes": {"app"}, "web": {"web.pages", "contract"},
                     "web.pages": {"contract"}, "contract": set()}
    assert cycles(imports(root)) == [["app", "routes", "app"]]
    assert layer_breaches(imports(root), {"__init__": 4, "app": 3, "routes": 1, "web": 2, "web.pages": 1,
                                          "contract": 0}) == ["routes:1 imports app (layer 3 >= 1)"]


def test_sql_calls_are_found_wherever_they_are(tmp_path):
    root = _package(tmp_path, {"a.py": "def f(con):\n    return con.execute('SELECT 1')\n",
                               "b.py": "x = service.reader().sql('SELECT 2')\nexecute = 1\n"})
    assert sorted(sql_calls(root)) == [("a", "execute", 2), ("b", "sql", 1)]


# -------------------------------------------------------------------------------- the server's shape
def test_every_server_module_has_a_layer():
    assert set(_modules()) == set(LAYERS), "name the layer of a new server module in LAYERS (and in the docs)"


def test_the_server_modules_import_each_other_without_cycles():
    assert cycles(imports()) == []


def test_each_server_module_imports_only_from_lower_layers():
    assert layer_breaches(imports(), LAYERS) == []


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_no_sql_in_the_server(module):
    """The server asks the query and storage layers; it runs no SQL of its own (the pages, the API and the static
    edition then ask the same functions)."""
    calls = [(m, call, line) for m, call, line in sql_calls() if m == module and (m, call) not in SQL_ALLOWED]
    assert calls == []
