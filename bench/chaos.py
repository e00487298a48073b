"""Chaos: the reliability scenarios at a larger scale, with a summary table.

    python bench/chaos.py              # scale 5: 1000 requests a load round, 300 fuzz examples, 20 kill cycles
    python bench/chaos.py --scale 2 --write

Runs the suite's own fault tests (loopback only, bounded in time and count) with
VIDATLAS_CHAOS_SCALE set: load rounds with memory checks, hot swap under load, Redis killed and
restarted under load, a decompression-bomb clip, fuzzed requests, SIGKILL cycles of the indexer,
a corrupt bundle published while serving, SIGTERM with calls in flight.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import table, write_section  # noqa: E402

SCENARIOS = [
    "tests/service/test_reliability.py",
    "tests/indexer/test_interrupted.py",
    "tests/service/test_server.py::test_hot_reload_swaps_versions_and_refuses_bad_ones",
    "tests/service/test_server.py::test_redis_down_means_slower_never_failed",
    "tests/service/test_operations.py::test_sigterm_lets_in_flight_calls_complete",
    "tests/service/test_operations.py::test_oversized_request_is_resource_exhausted",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=int, default=5)
    p.add_argument("--write", action="store_true", help="write the summary into BENCHMARKS.md")
    args = p.parse_args()
    report = Path(tempfile.mkdtemp(prefix="vidatlas-chaos-")) / "junit.xml"  # (kept: pytest names it)
    measured = report.with_name("measured.jsonl")
    env = {**os.environ, "VIDATLAS_CHAOS_SCALE": str(args.scale), "VIDATLAS_CHAOS_REPORT": str(measured)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           *SCENARIOS], cwd=ROOT, env=env)
    rows = []
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome = "FAILED" if case.find("failure") is not None or case.find("error") is not None else "passed"
        rows.append([case.get("name"), outcome, float(case.get("time", 0))])
    body = f"Scale {args.scale} (VIDATLAS_CHAOS_SCALE); {sum(r[1] == 'passed' for r in rows)} of {len(rows)} passed.\n\n"
    body += table(["scenario", "outcome", "seconds"], rows)
    if measured.exists():
        import json
        values = [json.loads(line) for line in measured.read_text().splitlines()]
        body += "\n\n" + table(["measurement", "value"], [[v["name"], v["value"]] for v in values])
    print(body)
    if args.write:
        write_section("Chaos (faults, load, hostile input)", body)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
