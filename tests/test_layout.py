"""The layout of execution/: layers kept by import-linter, no cycle, no Airflow, and old artifacts still load."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from execution.config import OrderParams
from execution.data.sources.synthetic import SyntheticSource
from execution.models.artifacts import LEGACY_MODULES, load_artifact, sha256_file
from execution.models.strategies import resolve_strategy
from execution.sim.backtest import run_strategies
from execution.sim.market import from_bars
from execution.sim.policy import policy_strategy

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LEGACY = REPO / "tests" / "data" / "legacy_models"
MAX_TOP_LEVEL_MODULES = 6


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root`` (with ``root/pyproject.toml``), no cache."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def module_graph(package: Path) -> dict[str, set[str]]:
    """Module -> modules of the package it imports (read from the code; relative imports resolved)."""
    modules = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a list of modules, or ``[]``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


# ------------------------------------------------------------------ the contracts


def test_every_import_linter_contract_is_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """The check can fail: the simulator importing the report layer is refused, naming the import."""
    shutil.copytree(REPO / "execution", tmp_path / "execution", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    fills = tmp_path / "execution" / "sim" / "fills.py"
    fills.write_text(fills.read_text() + "\nfrom execution.report import daily  # noqa: E402,F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "arrows point down only BROKEN" in result.stdout
    assert "execution.sim.fills -> execution.report.daily" in result.stdout


def test_at_most_six_modules_directly_under_execution():
    top = sorted(p.name for p in (REPO / "execution").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_no_import_cycle_between_modules_and_the_cycle_finder_finds_one():
    graph = module_graph(REPO / "execution")
    assert find_cycle(graph) == []
    graph["execution.sim.fills"].add("execution.sim.backtest")  # backtest imports fills: now a cycle
    assert find_cycle(graph)[0] in {"execution.sim.fills", "execution.sim.backtest"}


def test_no_airflow_import_in_the_library():
    graph = module_graph(REPO / "execution")
    offenders = []
    for path in (REPO / "execution").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] == "airflow"]
    assert offenders == []
    assert graph  # the walk saw the package


def test_every_package_says_its_job_and_lists_its_public_names():
    import importlib

    for init in sorted((REPO / "execution").glob("*/__init__.py")):
        package = importlib.import_module(f"execution.{init.parent.name}")
        assert package.__doc__ and len(package.__doc__.split()) > 10, init
        assert isinstance(package.__all__, list), init
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{init.parent.name}.{name}"


# ------------------------------------------------------------------ artifacts saved before the move


@pytest.fixture(scope="module")
def legacy():
    """The artifacts saved by the code before the Layout move, and what they did then."""
    expected = json.loads((LEGACY / "expected.json").read_text())
    window = expected["market"]
    bars = (
        SyntheticSource(seed=window["seed"])
        .fetch(window["symbol"], date.fromisoformat(window["start"]), date.fromisoformat(window["end"]))
        .bars
    )
    return expected, from_bars(bars, OrderParams())


@pytest.mark.parametrize("agent", ["dqn_sl", "a3c_sl"])
def test_an_artifact_saved_before_the_move_loads_and_acts_as_it_did(legacy, agent):
    expected, market = legacy
    entry = expected["models"][agent]
    path = LEGACY / entry["file"]
    assert sha256_file(path) == entry["sha256"]  # the committed file is the one saved then
    model = load_artifact(agent, path, f"legacy {agent}")
    frame = run_strategies([market], OrderParams(), [(agent, policy_strategy(model, "seed"))], fills=["impact"])
    assert np.isfinite(frame["shortfall_bps"]).all()
    from execution.sim.policy import policy_schedule

    lots = policy_schedule(model, market, OrderParams(), "seed")
    np.testing.assert_array_equal(lots, np.array(entry["lots_per_day"]))
    assert not any(old in sys.modules for old in LEGACY_MODULES)  # the old names were only there to unpickle


def test_a_legacy_artifact_registered_in_the_registry_backtests_as_model_id(conn, settings, legacy):
    from execution.models import registry
    from execution.models.artifacts import relative_artifact_path

    expected, market = legacy
    target = settings.models_dir / "RELIANCE" / "legacy-dqn_sl.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(LEGACY / expected["models"]["dqn_sl"]["file"], target)
    model_id = registry.register(
        conn,
        agent="dqn_sl",
        symbol="RELIANCE",
        train_start=date(2019, 12, 2),
        train_end=date(2019, 12, 6),
        train_days=5,
        episodes=30,
        timesteps=0,
        seed=3,
        reward="vr",
        fill="seed",
        hyperparameters={},
        order=OrderParams(),
        artifact_path=relative_artifact_path(settings, target),
        sha256=expected["models"]["dqn_sl"]["sha256"],
    )
    conn.commit()
    lots = resolve_strategy(f"model:{model_id}", settings)(market, OrderParams(), "seed")
    np.testing.assert_array_equal(lots, np.array(expected["models"]["dqn_sl"]["lots_per_day"]))
