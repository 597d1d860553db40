"""The house rules, as tests (issue 17's "Done when"): no import cycles,
each engine imported only by its backend, small modules, docstrings on
every public name of search/ and indexer/, and a README whose layout and
configuration tables match the tree and the settings (the layout
table is in docs/architecture.md, the configuration table in README.md).

Read from the source (``ast``), never by importing it: module-level
imports only for cycles (an import inside a function runs when called);
every import, wherever it stands, for the engine rule."""

from __future__ import annotations

import ast
import os
import re

from conftest import ROOT

PACKAGES = ("search", "indexer", "web")
MAX_LINES = 400


def _modules() -> dict[str, str]:
    """{dotted module name: path} of every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[dotted.removesuffix(".__init__")] = path
    return found


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


MODULES = _modules()
TREES = {name: ast.parse(_read(path), path) for name, path in MODULES.items()}


def _rel(name: str) -> str:
    return os.path.relpath(MODULES[name], ROOT)


def _imported(module: str, node: ast.AST) -> list[str]:
    """Dotted names an import statement of ``module`` brings in (relative
    imports resolved; ``from p import m`` names ``p.m`` when it is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        package = module if MODULES[module].endswith("__init__.py") else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    names = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    return names or [base]


def _top_level_imports(module: str) -> set[str]:
    """Project modules ``module`` imports when it is loaded (statements at
    module level, in top-level ``if``/``try`` blocks too; not under
    ``if TYPE_CHECKING``)."""
    out, stack = set(), list(TREES[module].body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            stack += node.body + node.orelse
        elif isinstance(node, ast.Try):
            stack += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        for name in _imported(module, node):
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
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


def test_no_import_cycles():
    graph = {name: _top_level_imports(name) for name in MODULES}
    cycles = _cycles(graph)
    assert not cycles, "modules importing each other at load time:\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def _every_import(module: str):
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module


def _importers(engine: str, allowed: str) -> list[str]:
    return sorted(f"{_rel(m)} imports {engine}" for m in MODULES if not m.startswith(allowed)
                  for name in _every_import(m) if name.split(".")[0] == engine)


def test_only_each_backend_imports_its_engine():
    offenders = (_importers("whoosh", "search.backends.whoosh")
                 + _importers("opensearchpy", "search.backends.opensearch"))
    assert not offenders, "\n".join(offenders)


def test_search_imports_neither_flask_nor_indexer():
    offenders = sorted(f"{_rel(m)} imports {name}" for m in MODULES if m.split(".")[0] == "search"
                       for name in _every_import(m)
                       if name.split(".")[0] in ("flask", "werkzeug", "indexer", "web"))
    assert not offenders, "\n".join(offenders)


def test_no_module_over_400_lines_without_a_reason():
    """A module over ``MAX_LINES`` lines says why in its docstring, on a
    line starting ``Size:``."""
    offenders = []
    for name, path in MODULES.items():
        lines = _read(path).count("\n")
        doc = ast.get_docstring(TREES[name]) or ""
        if lines > MAX_LINES and not any(line.strip().startswith("Size:") for line in doc.splitlines()):
            offenders.append(f"{_rel(name)}: {lines} lines")
    assert not offenders, "over 400 lines without a 'Size:' reason in the docstring:\n" + "\n".join(offenders)


def _public_without_docstring(module: str):
    """Public names of ``module`` without a docstring.  A method overriding
    a documented method of a base class of the same module inherits its
    docstring (as ``inspect.getdoc`` reads it)."""
    classes = {node.name: node for node in TREES[module].body if isinstance(node, ast.ClassDef)}

    def documented(cls: ast.ClassDef, name: str, seen=()) -> bool:
        for base in cls.bases:
            parent = classes.get(base.id) if isinstance(base, ast.Name) else None
            if parent is None or parent.name in seen:
                continue
            for item in parent.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name \
                        and ast.get_docstring(item):
                    return True
            if documented(parent, name, (*seen, parent.name)):
                return True
        return False

    for node in TREES[module].body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            if not ast.get_docstring(node):
                yield f"{_rel(module)}:{node.lineno} {node.name}"
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_")
                            and not ast.get_docstring(item) and not documented(node, item.name)):
                        yield f"{_rel(module)}:{item.lineno} {node.name}.{item.name}"


def test_every_public_name_of_search_and_indexer_has_a_docstring():
    missing = [entry for m in MODULES if m.split(".")[0] in ("search", "indexer")
               for entry in _public_without_docstring(m)]
    assert not missing, f"{len(missing)} public functions, classes and methods without a docstring:\n" + "\n".join(
        missing)


def _readme_table(heading: str, document: str = "README.md") -> list[list[str]]:
    """The rows (cells) of the first table after ``heading`` in ``document``
    (a path from the project root: README.md, or a page of docs/)."""
    text = _read(os.path.join(ROOT, document))
    start = text.index(heading)
    rows = []
    lines = text[start:].splitlines()
    for line in lines if heading.startswith("|") else lines[1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif rows:
            break
    return rows[2:]  # without the header and the separator


def _expand(path: str) -> list[str]:
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py``."""
    match = re.search(r"\{([^{}]*)\}", path)
    if not match:
        return [path]
    return [p for option in match.group(1).split(",")
            for p in _expand(path[:match.start()] + option.strip() + path[match.end():])]


def _layout_paths() -> list[str]:
    # The layout table is the first "| step | module |" table of
    # docs/architecture.md (linked from the README: it is for developers).
    paths = []
    for row in _readme_table("| step | module |\n", "docs/architecture.md"):
        for token in re.findall(r"`([^`]+)`", row[-1]):
            if "/" in token and " " not in token:
                paths += _expand(token)
    return paths


def test_readme_layout_table_matches_the_tree():
    paths = _layout_paths()
    gone = [p for p in paths if not os.path.exists(os.path.join(ROOT, p))]
    listed = {os.path.normpath(p) for p in paths}
    unlisted = [_rel(m) for m in MODULES if not MODULES[m].endswith(("__init__.py", "__main__.py"))
                and _rel(m) not in listed]
    assert not gone and not unlisted, ("docs/architecture.md's layout table names files that do not exist: " + ", ".join(gone)
                                       + "\nmodules its layout table does not name: " + ", ".join(unlisted))


def test_readme_configuration_table_lists_exactly_the_settings():
    from search.settings import Settings

    documented = [name for row in _readme_table("## Configuration") for name in re.findall(r"`([A-Z_]+)`", row[0])]
    declared = list(Settings.variables())
    assert len(documented) == len(set(documented)), "listed twice: " + ", ".join(
        n for n in set(documented) if documented.count(n) > 1)
    assert set(documented) == set(declared), ("in README, not in search/settings.py: "
                                              + ", ".join(sorted(set(documented) - set(declared)))
                                              + "\nin search/settings.py, not in README: "
                                              + ", ".join(sorted(set(declared) - set(documented))))


def test_the_environment_is_read_only_by_the_settings():
    """``os.environ``/``os.getenv`` are read in search/settings.py alone."""
    offenders = []
    for name, tree in TREES.items():
        if name == "search.settings":
            continue
        for node in ast.walk(tree):
            text = ast.unparse(node) if isinstance(node, (ast.Attribute, ast.Call)) else ""
            if re.fullmatch(r"os\.(environ(\.get)?|getenv)", text.split("(")[0]) and isinstance(node, ast.Call):
                offenders.append(f"{_rel(name)}:{node.lineno} {text[:60]}")
    assert not offenders, "\n".join(offenders)
