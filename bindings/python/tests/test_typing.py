"""The shipped typing: `py.typed` and the `.pyi` stubs are installed, match the runtime
(mypy's stubtest), and type-check real usage and the Python example under --strict."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from conftest import ROOT

pytest.importorskip("mypy")
HERE = Path(__file__).resolve().parent


def run_mypy(args: list[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    """mypy or stubtest in a scratch directory (its cache lands there, not in the tree)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
    )


def test_typing_files_are_installed() -> None:
    package = resources.files("aigw")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("_aigw.pyi").is_file()


def test_stubs_match_the_runtime(tmp_path: Path) -> None:
    result = run_mypy(["-m", "mypy.stubtest", "aigw", "--concise"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_usage_type_checks_strictly(tmp_path: Path) -> None:
    files = [str(HERE / "typed_usage.py"), str(ROOT / "examples" / "python" / "chat.py")]
    result = run_mypy(["-m", "mypy", "--strict", "--warn-unused-ignores", *files], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
