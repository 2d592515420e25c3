"""The architecture visible from the tree: circuits/ below probes/, the pipeline and the CLI above both, no import
cycles (imports inside functions count), and the CLI starts without importing transformer_lens."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("circuits", "probes")
TOP = ("workbench", "icl_workbench")


def module_files() -> dict[str, Path]:
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts): p
             for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if p.stem != "__init__"}
    return files | {name: ROOT / f"{name}.py" for name in TOP}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside `if TYPE_CHECKING:` blocks (annotations only: never executed)."""
    blocks = [n for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    return {id(m) for b in blocks for s in b.body for m in ast.walk(s)}


def imports(file: Path, known: set[str]) -> set[str]:
    """Every project module `file` imports at run time, at any depth (function-level imports included; imports for
    annotations only, under `if TYPE_CHECKING:`, are not run and do not count)."""
    found = set()
    tree = ast.parse(file.read_text())
    skip = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n for n in names if n in known}
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports(file, set(files)) - {name} for name, file in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = 2
        return None

    return next((c for n in sorted(graph) if n not in state and (c := visit(n, [n]))), None)


def test_the_import_graph_has_no_cycles():
    assert find_cycle(import_graph()) is None, find_cycle(import_graph())


def test_a_cycle_is_detected():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_layers_point_one_way():
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("circuits."):
            assert not {t for t in targets if not t.startswith("circuits.")}, f"{name} imports {targets}"
        if name.startswith("probes."):
            assert not targets & set(TOP), f"{name} imports the pipeline or the CLI"
    assert graph["icl_workbench"] <= {"workbench"} | {n for n in graph if n.startswith(PACKAGES)}


def test_the_cli_starts_without_transformer_lens():
    code = "import sys, icl_workbench; icl_workbench._parser(); print('transformer_lens' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


def layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    layout = text[text.index("## Layout"):]
    return layout[: layout.index("```", layout.index("```") + 3)]


def folder_entry(layout: str, folder: str) -> str:
    """The text of the Layout block from `folder/` (a word of its own) to the next folder or package line."""
    import re

    start = re.search(rf"(?m)^\s*{re.escape(folder)}/", layout)
    if start is None:
        return ""
    rest = layout[start.end():]
    end = re.search(r"(?m)^\s*[a-z_]+/", rest)
    return rest[: end.start() if end else len(rest)]


def test_every_module_is_named_in_the_readme_layout():
    """Each module appears under its own folder's line (`circuits/`, then `    data/` …): the Layout is the tree."""
    import re

    layout = layout_block()
    missing = []
    for name, file in module_files().items():
        parts = name.split(".")
        entry = folder_entry(layout, parts[-2]) if len(parts) > 2 else folder_entry(layout, parts[0]) if len(parts) == 2 else layout
        if not re.search(rf"(?<![\w/]){re.escape(file.name)}\b", entry):
            missing.append(name)
    assert not missing, f"README's Layout section does not name {missing} under their folders"


def test_every_subpackage_says_what_its_stage_is():
    for init in [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")]:
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init.relative_to(ROOT)} has no docstring"


def file_name_constants(file: Path) -> list[str]:
    """Module-level string constants of `file` that spell a file name (`X = "name.json"`)."""
    import re

    return [ast.unparse(node) for node in ast.parse(file.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            and re.fullmatch(r"[\w.-]+\.(json|jsonl|html|safetensors|pt)", node.value.value)]


def test_run_directory_file_names_are_defined_in_one_module():
    """`circuits/store/files.py` names every file of a run, grid and analysis folder; no other module defines one
    (Hugging Face's own folder names in `circuits/model/hf.py` describe a foreign format, not ours)."""
    allowed = {"circuits.store.files", "circuits.model.hf"}
    offenders = {name: found for name, file in module_files().items() if name not in allowed and (found := file_name_constants(file))}
    assert not offenders, offenders
    assert file_name_constants(ROOT / "circuits/store/files.py")  # the check can see a constant


def test_file_names_are_imported_from_their_one_module():
    """A file name reached through another module (`from circuits.store.runs import CONFIG_FILE`) is a second home."""
    names = {n.targets[0].id for n in ast.parse((ROOT / "circuits/store/files.py").read_text()).body if isinstance(n, ast.Assign)}
    files = module_files() | {p.stem: p for p in (ROOT / "tests").glob("*.py")}
    second_homes = [f"{name}: from {node.module} import {a.name}" for name, file in files.items()
                    for node in ast.walk(ast.parse(file.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module not in (None, "circuits.store.files")
                    for a in node.names if a.name in names]
    assert not second_homes, second_homes
