"""`make demo` as a user runs it: the built-in samples indexed, served on a free loopback port
and queried through the client, in one process (no Redis, no network)."""
import subprocess
import sys

from vidatlas.demo import QUERIES


def test_the_demo_indexes_serves_and_answers_every_query(tmp_path):
    out = subprocess.run([sys.executable, "-m", "vidatlas", "demo", "--dir", str(tmp_path), "--no-progress"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr.count("\n$ vidatlas ") == len(QUERIES)
    answers = out.stdout.split("rank  video")[1:]
    assert len(answers) == len(QUERIES) - 1 and "video label:" in out.stdout  # three tables and the labels
    first = answers[0].splitlines()[1].split()  # rank 1 of "similar real/carphone_pristine"
    assert first[1] == "real/carphone_distorted" and "copy" in first and "not" not in first
    assert (tmp_path / "atlas" / "CURRENT").is_file()
