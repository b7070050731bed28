"""The rooms keep their one direction of imports (import-linter contracts in setup.cfg; docs/architecture.md)."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: it comes with the test extra (pip install -e '.[test]')"
    return found


def test_import_contracts_are_kept():
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_ruff_passes():
    """The project's lint rules (pyproject.toml [tool.ruff]) hold everywhere."""
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_tests_build_apps_only_through_the_fixtures_that_stop_them():
    """Every app a test builds is stopped (job runner drained, store closed) however the test ends: tests get
    apps from conftest's ``make_app`` / ``running_app`` / ``app`` fixtures, never from ``create_app`` directly
    (an app made in a subprocess's code string is that process's business)."""
    direct = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        if path.name == "conftest.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name == "create_app":
                    direct.append(f"tests/{path.name}:{node.lineno}")
    assert not direct, f"create_app called outside conftest's make_app/running_app (never stopped): {direct}"


def test_request_handlers_reach_app_state_through_typed_accessors_only():
    """``current_app.extensions[...]`` (untyped, its key copied around) is written once, in state.py's
    ``current_state()``; anything else an app holds has its own typed function (e.g. api.openapi.doc_extensions)."""
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "mock_server").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if "current_app.extensions" in line and path.name != "state.py"]
    assert not found, f"reach the app's state through state.current_state() or a typed accessor: {found}"


# HTTP clients a test could use instead of mock_server.testing.http_json / http_text.
HTTP_CLIENTS = {"urllib.request", "http.client", "requests", "httpx"}


def _calls_time(node, names: set[str]) -> bool:
    """Whether ``node`` calls ``time.<name>`` for one of ``names``, outside functions defined within it."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        func = child.func if isinstance(child, ast.Call) else None
        if (isinstance(func, ast.Attribute) and func.attr in names and isinstance(func.value, ast.Name)
                and func.value.id == "time"):
            return True
        todo.extend(ast.iter_child_nodes(child))
    return False


def _exits_early(loop) -> bool:
    """Whether ``loop`` has a break or return of its own (not one of a nested loop or function)."""
    todo = [*loop.body]
    while todo:
        child = todo.pop()
        if isinstance(child, (ast.Break, ast.Return)):
            return True
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.For,
                              ast.While)):
            continue
        todo.extend(ast.iter_child_nodes(child))
    return False


def test_tests_poll_and_call_servers_through_the_shared_helpers():
    """Tests call a live server with ``mock_server.testing.http_json`` / ``http_text`` and poll with
    ``wait_until``: no HTTP client of their own (urllib.request, http.client, requests) and no hand-written
    poll loop (a loop that sleeps or reads the clock and leaves once something came true). Raw sockets stay
    allowed, for tests that send what no HTTP client would."""
    clients, loops = [], []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"tests/{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                clients += [where for alias in node.names if alias.name in HTTP_CLIENTS]
            elif isinstance(node, ast.ImportFrom) and node.module in HTTP_CLIENTS:
                clients.append(where)
            elif isinstance(node, (ast.For, ast.While)) and _exits_early(node) and (
                    _calls_time(node, {"sleep", "monotonic", "time"})):
                loops.append(where)
    assert not clients, f"call servers through mock_server.testing.http_json / http_text: {clients}"
    assert not loops, f"poll through mock_server.testing.wait_until: {loops}"


def test_the_app_factory_only_wires():
    """app.py builds the app from the rooms' register functions: no route or request hook of its own (/health and
    the request log are api/meta.py's)."""
    hooks = {"route", "get", "post", "put", "delete", "add_url_rule", "before_request", "after_request",
             "teardown_request", "errorhandler"}
    tree = ast.parse((ROOT / "mock_server" / "app.py").read_text())
    found = [f"mock_server/app.py:{node.lineno}" for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr in hooks
             and isinstance(node.value, ast.Name) and node.value.id == "app"]
    nested = [f"mock_server/app.py:{node.lineno}" for top in tree.body if isinstance(top, ast.FunctionDef)
              for node in ast.walk(top) if node is not top and isinstance(node, ast.FunctionDef)]
    assert not found and not nested, f"a route or hook defined in app.py, not in its room: {found + nested}"


# Imported by tests but installed otherwise: the vendor's SDK, which scripts/test pip-installs --no-deps (pinned
# there: its own requirements do not install on Python 3.10+).
INSTALLED_APART = {"deepaffects"}


def _distribution_names(text: str) -> set[str]:
    """The distribution names (PEP 503-normalised) of a setup.cfg requirement list."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]).lower() for line in lines if line}


def test_what_the_tests_import_is_declared_in_the_test_extra():
    """Every third-party package a test imports (``pytest.importorskip`` included: CI runs with --no-skips) is in
    install_requires or the test extra, not only reached through another package's own requirements."""
    import configparser
    from importlib.metadata import packages_distributions

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    declared = (_distribution_names(setup["options"]["install_requires"])
                | _distribution_names(setup["options.extras_require"]["test"]))
    ours = ({path.stem for folder in ("tests", "scripts") for path in (ROOT / folder).glob("*.py")}
            | {"mock_server", "conftest"} | INSTALLED_APART)
    distributions = packages_distributions()
    undeclared = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "importorskip" and node.args and isinstance(node.args[0], ast.Constant)):
                modules = [node.args[0].value]
            else:
                continue
            for top in {module.split(".")[0] for module in modules} - set(sys.stdlib_module_names) - ours:
                names = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(top, [top])}
                if not names & declared:
                    undeclared.append(f"{top} (tests/{path.name}:{node.lineno})")
    assert not undeclared, f"declare these in setup.cfg's test extra: {undeclared}"
