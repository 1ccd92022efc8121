"""APScheduler stays behind one adapter, and the command line loads it only to run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_runner_imports_apscheduler() -> None:
    users = {
        p.relative_to(BOT).as_posix() for p in BOT.rglob("*.py") if "apscheduler" in imported(p)
    }
    assert users == {"scheduler/runner.py"}


def test_the_cli_loads_apscheduler_only_to_run() -> None:
    code = "import sys, bot.cli; print('apscheduler' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
