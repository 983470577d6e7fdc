"""The house rules, checked on the source with ``ast``: modules short enough to read in one
sitting, short functions on the frame path, imports that point down the layers, no import loop.

The layers are those of ``scenewatch/flow/__init__.py`` and the README's "How it is built",
lowest first; a module imports from its own layer or below. Each exception is listed with the
reason it is still there, and an exception that is no longer needed fails the test, so the lists
only shrink.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
from dataclasses import dataclass, field
from pathlib import Path

from scenewatch.vision import detector_types

PACKAGE = Path(__file__).resolve().parent.parent / "scenewatch"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Lowest first. A module belongs to the layer of its longest matching pattern; a pattern names a
# module or package (its submodules included) and may hold fnmatch wildcards.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",  # passed everywhere: frames, errors, geometry, retries, the class names
        (
            "scenewatch",
            "scenewatch.types",
            "scenewatch.errors",
            "scenewatch.geometry",
            "scenewatch.backoff",
            "scenewatch.outbound",
            "scenewatch.samples",
            "scenewatch.vision.labels",
        ),
    ),
    # The detector plugins (frames in, raw detections out) need only the foundation, and the
    # config's `detector.type` choices, their description and the providers check are read from
    # them: the config is built from the plugin list, as Frigate builds its detector config union
    # from the plugin classes. Here they are kept below the config, so no detector may read it;
    # a new plugin is placed here by its entry in the list.
    (
        "detector plugins",
        (
            "scenewatch.vision.detector",
            "scenewatch.vision.detector_types",
            *(cls.__module__ for cls in detector_types.PLUGINS),
        ),
    ),
    ("config", ("scenewatch.config",)),
    ("model store", ("scenewatch.models", "scenewatch.model_convert")),
    ("store tables", ("scenewatch.store",)),  # schema, queries, media: every stage reads and writes
    ("sources", ("scenewatch.sources",)),
    ("detection", ("scenewatch.vision", "scenewatch.model_checks")),
    ("tracking", ("scenewatch.tracking",)),
    ("attributes", ("scenewatch.vision.attributes",)),
    (
        "track consumers",
        (
            "scenewatch.rules",
            "scenewatch.search",
            "scenewatch.health",
            "scenewatch.notify",
            "scenewatch.recording",
            "scenewatch.runtime",
            "scenewatch.eval",
            "scenewatch.store.writer",
        ),
    ),
    ("flow", ("scenewatch.flow", "scenewatch.pipeline")),
    ("api", ("scenewatch.api",)),
    ("central", ("scenewatch.central",)),
    ("commands", ("scenewatch.cli", "scenewatch.cli_*", "scenewatch.tools")),
)

# (importer, imported): why the import still points up
UPWARD_EXCEPTIONS: dict[tuple[str, str], str] = {}

# (importer, imported): an import within a layer that closes a loop, and why it is still there
LOOP_EXCEPTIONS: dict[tuple[str, str], str] = {}

# modules over MAX_MODULE_LINES: why
LONG_MODULES: dict[str, str] = {
    "scenewatch.search.lexicon": "a data table: the query vocabulary, English and Chinese",
}

# the code a frame goes through: source, planner, motion gate, detector pool, detector, filter,
# tracker, rules, health checks, live recording, the flow
FRAME_PATH = (
    "scenewatch.flow.*",
    "scenewatch.pipeline",
    "scenewatch.sources.*",
    "scenewatch.runtime.inference",
    "scenewatch.runtime.motion",
    "scenewatch.runtime.planner",
    "scenewatch.runtime.regions",
    "scenewatch.runtime.sampler",
    "scenewatch.vision.detector",
    "scenewatch.vision.detector_types",
    "scenewatch.vision.centernet",
    "scenewatch.vision.nanodet",
    "scenewatch.vision.filters",
    "scenewatch.vision.pose",
    "scenewatch.tracking.*",
    "scenewatch.rules.engine",
    "scenewatch.rules.base",
    "scenewatch.rules.history",
    "scenewatch.rules.zones",
    "scenewatch.rules.lines",
    "scenewatch.rules.*_rules",
    "scenewatch.rules.posture",
    "scenewatch.health.monitor",
    "scenewatch.health.moved_check",
    "scenewatch.health.checks",
    "scenewatch.health.measures",
    "scenewatch.health.baseline",
    "scenewatch.health.reference",
    "scenewatch.recording.recorder",
)

# "module.function": why it is still over MAX_FUNCTION_LINES
LONG_FUNCTIONS: dict[str, str] = {
    "scenewatch.health.checks.conditions": (
        "every image fault's test in one row, each a few lines; to be split by fault family"
    ),
}


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    tree: ast.Module
    imports: dict[str, int] = field(default_factory=dict)  # scenewatch module -> first line


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def scan(root: Path) -> dict[str, Module]:
    """Every module of the package at ``root`` with the package's modules it imports: at module
    level, in a function or under ``TYPE_CHECKING`` alike, since each is a dependency."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = module_name(path, root)
        modules[name] = Module(name, path, len(text.splitlines()), ast.parse(text, str(path)))
    for module in modules.values():
        package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, package, root.name):
                found = _resolve(target, modules)
                if found != module.name:
                    module.imports.setdefault(found, node.lineno)
    return modules


def _targets(node: ast.Import | ast.ImportFrom, package: str, top: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == top or a.name.startswith(top + ".")]
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
    if base != top and not base.startswith(top + "."):
        return []
    # `from a.b import c` imports module a.b.c when there is one, else a name of a.b
    return [f"{base}.{a.name}" for a in node.names]


def _resolve(target: str, modules: dict[str, Module]) -> str:
    """The module that ``target`` (a module or a name in one) lives in."""
    while target not in modules and "." in target:
        target = target.rpartition(".")[0]
    return target


def _matches(module: str, pattern: str) -> bool:
    if pattern == "scenewatch":  # the package's own __init__, not everything under it
        return module == pattern
    return fnmatch.fnmatchcase(module, pattern) or fnmatch.fnmatchcase(module, pattern + ".*")


def unit_of(module: str) -> tuple[int, str] | None:
    """(layer index, the pattern that placed it) of the longest pattern that matches ``module``."""
    found = [
        (len(pattern), index, pattern)
        for index, (_, patterns) in enumerate(LAYERS)
        for pattern in patterns
        if _matches(module, pattern)
    ]
    if not found:
        return None
    _, index, pattern = max(found)
    return index, pattern


# ---------------------------------------------------------------- the checks


def unplaced(modules: dict[str, Module]) -> list[str]:
    return sorted(name for name in modules if unit_of(name) is None)


def long_modules(modules: dict[str, Module]) -> dict[str, int]:
    return {name: m.lines for name, m in modules.items() if m.lines > MAX_MODULE_LINES}


def long_functions(modules: dict[str, Module]) -> dict[str, int]:
    """Functions (methods and nested functions included) of the frame path over the limit."""
    out = {}
    for name, module in modules.items():
        if not any(_matches(name, pattern) for pattern in FRAME_PATH):
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    out[f"{name}.{node.name}"] = length
    return out


def upward_imports(modules: dict[str, Module]) -> dict[tuple[str, str], str]:
    """(importer, imported) -> where and which layers, for every import that points up."""
    out = {}
    for name, module in modules.items():
        placed = unit_of(name)
        if placed is None:
            continue
        for target, line in module.imports.items():
            there = unit_of(target)
            if there is None:
                continue
            if there[0] > placed[0]:
                layers = f"{LAYERS[placed[0]][0]} -> {LAYERS[there[0]][0]}"
                out[(name, target)] = f"{module.path.name}:{line}: {layers}"
    return out


def import_loops(modules: dict[str, Module], skip: set[tuple[str, str]]) -> list[list[str]]:
    """Loops among modules, and among the layers' units (a package, or a part of one the layers
    name apart), leaving out the imports in ``skip`` (exceptions already listed)."""
    module_graph = {
        name: {t for t in m.imports if t in modules and (name, t) not in skip} for name, m in modules.items()
    }
    unit_graph: dict[str, set[str]] = {}
    for name, targets in module_graph.items():
        here = unit_of(name)
        if here is None:
            continue
        edges = unit_graph.setdefault(here[1], set())
        for target in targets:
            there = unit_of(target)
            if there is not None and there[1] != here[1]:
                edges.add(there[1])
    return _loops(module_graph) + _loops(unit_graph)


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of ``graph`` with more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


# ---------------------------------------------------------------- the tree


@functools.cache
def tree() -> dict[str, Module]:
    return scan(PACKAGE)


def _lines(found: dict) -> str:
    return "\n".join(f"  {key}: {value}" for key, value in sorted(found.items()))


def test_every_module_has_a_layer():
    assert unplaced(tree()) == [], "add these to LAYERS in tests/test_architecture.py"


def test_no_module_over_400_lines():
    found = long_modules(tree())
    new = {name: count for name, count in found.items() if name not in LONG_MODULES}
    assert not new, f"split these modules along what their parts do:\n{_lines(new)}"
    stale = sorted(set(LONG_MODULES) - set(found))
    assert not stale, f"short enough now, take them off LONG_MODULES: {stale}"


def test_no_function_on_the_frame_path_over_60_lines():
    found = long_functions(tree())
    new = {name: count for name, count in found.items() if name not in LONG_FUNCTIONS}
    assert not new, f"split these functions of the frame path:\n{_lines(new)}"
    stale = sorted(set(LONG_FUNCTIONS) - set(found))
    assert not stale, f"short enough now, take them off LONG_FUNCTIONS: {stale}"


def test_imports_point_down_the_layers():
    found = upward_imports(tree())
    new = {key: where for key, where in found.items() if key not in UPWARD_EXCEPTIONS}
    assert not new, f"these imports point up the layers:\n{_lines(new)}"
    stale = sorted(set(UPWARD_EXCEPTIONS) - set(found))
    assert not stale, f"no longer imported, take them off UPWARD_EXCEPTIONS: {stale}"


def test_no_import_loop():
    skip = set(UPWARD_EXCEPTIONS) | set(LOOP_EXCEPTIONS)
    loops = import_loops(tree(), skip)
    assert not loops, "import loops:\n" + "\n".join(f"  {' <-> '.join(loop)}" for loop in loops)
    stale = sorted(edge for edge in LOOP_EXCEPTIONS if not import_loops(tree(), skip - {edge}))
    assert not stale, f"no loop through these any more, take them off LOOP_EXCEPTIONS: {stale}"


# ---------------------------------------------------------------- the checks catch what they should


def _plant(root: Path, files: dict[str, str]) -> dict[str, Module]:
    for relative, text in files.items():
        path = root / "scenewatch" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return scan(root / "scenewatch")


def _function(name: str, lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x = {i}\n" for i in range(lines - 1))
    return f"{indent}def {name}():\n{body}"


def test_the_checks_find_planted_violations(tmp_path):
    modules = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "",
            "store/__init__.py": "",
            "store/repo.py": "def f():\n    from scenewatch.api import app\n",  # lazy, still up
            "api/__init__.py": "",
            "api/app.py": "from scenewatch.store import repo\n",  # down: fine
            "config/__init__.py": "",
            "config/camera.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from scenewatch.rules.geometry import Zone\n"
            ),
            "rules/__init__.py": "",
            "rules/geometry.py": "from scenewatch.errors import X\n",
            "rules/base.py": "from scenewatch.rules.engine import RuleEngine\n",
            "rules/engine.py": "from . import base\n",  # relative: the same module
            # two packages of one layer that need each other, through different modules
            "notify/alert.py": "from scenewatch.recording.clips import cut\n",
            "recording/clips.py": "",
            "recording/recorder.py": "from scenewatch.notify import outbox\n",
            "notify/outbox.py": "",
            "search/big.py": "x = 1\n" * 401,
            "search/flat.py": "x = 1\n" * 400,
            "search/long.py": _function("slow", 61),  # not on the frame path
            "flow/camera.py": "class Run:\n" + _function("step", 61, "    "),
            "flow/short.py": _function("fits", 60),
            "newpkg/thing.py": "",
        },
    )
    assert unplaced(modules) == ["scenewatch.newpkg.thing"]
    assert long_modules(modules) == {"scenewatch.search.big": 401}
    assert long_functions(modules) == {"scenewatch.flow.camera.step": 61}
    assert set(upward_imports(modules)) == {
        ("scenewatch.store.repo", "scenewatch.api.app"),
        ("scenewatch.config.camera", "scenewatch.rules.geometry"),
    }
    assert import_loops(modules, set()) == [
        ["scenewatch.api.app", "scenewatch.store.repo"],
        ["scenewatch.rules.base", "scenewatch.rules.engine"],
        ["scenewatch.api", "scenewatch.store"],  # the packages, through the same imports
        ["scenewatch.notify", "scenewatch.recording"],
    ]
    skip = {("scenewatch.store.repo", "scenewatch.api.app")}
    assert import_loops(modules, skip) == [
        ["scenewatch.rules.base", "scenewatch.rules.engine"],
        ["scenewatch.notify", "scenewatch.recording"],
    ]
