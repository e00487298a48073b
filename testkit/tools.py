"""Commands the suite runs that the project installs: from the virtual environment, from PATH,
or (buf) from tools/ where `make setup` installs it with npm."""
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tool(name: str, install_hint: str) -> str:
    """A command installed with the project (beside this interpreter, in .venv/bin) or on PATH,
    so the suite works from an activated environment and from `.venv/bin/python -m pytest` alike."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    assert found, f"{name} missing: {install_hint}"
    return found


def buf() -> str:
    """buf, installed by `make setup` into tools/ (pinned in tools/package.json)."""
    path = ROOT / "tools" / "node_modules" / ".bin" / "buf"
    assert path.is_file(), "buf missing: run the README's set-up (make setup installs tools/ with npm)"
    return str(path)
