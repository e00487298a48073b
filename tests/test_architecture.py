"""The structure checks itself: layers and cycles (import-linter), and one table of codes."""
import re
import subprocess
import sys
from pathlib import Path

import grpc

from indexer.errors import EXIT_FOR, Code, Exit
from service.status import STATUS_FOR, code_of
from testkit.tools import tool

ROOT = Path(__file__).resolve().parents[1]


def test_layers_and_no_cycles():
    out = subprocess.run([tool("lint-imports", "pip install import-linter (part of the test extra)"), "--no-cache"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert "2 kept, 0 broken" in out.stdout


def test_every_code_has_a_status_an_exit_and_a_readme_row():
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| (\d+) \| `(\w+)` \|", readme, re.M))
    for code in Code:
        assert code in STATUS_FOR and code in EXIT_FOR, code
        assert rows.get(str(int(EXIT_FOR[code]))) == EXIT_FOR[code].name, code
    for status in Exit:
        assert rows.get(str(int(status))) == status.name, status  # every exit status is documented
    assert len(rows) == len(Exit)
    # a status coming back from a server maps to the code it was made from (DATA_LOSS travels as
    # FAILED_PRECONDITION: the server's damaged bundle is not the caller's data)
    for code, status in STATUS_FOR.items():
        assert code_of(status) is (Code.FAILED_PRECONDITION if code is Code.DATA_LOSS else code)
    assert code_of(grpc.StatusCode.UNKNOWN) is Code.INTERNAL


def test_the_indexing_run_starts_decoding_before_torch_is_imported():
    # torch (about 1.4 s) is imported by the backbone's loader thread while the first pieces decode
    probe = "import sys, indexer.pipeline, indexer.bundle; print(sorted(m for m in ('torch', 'timm') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
