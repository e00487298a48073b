"""The benchmarks keep working: each runs once at its --quick size (numbers are not asserted,
except the quality floor the product promises)."""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    out = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_indexing_benchmark_quick():
    text = run(ROOT / "bench" / "indexing.py", "--quick", "--no-seed-recipe")
    assert "vidatlas extraction" in text and "naive = decode-all then backbone" in text
    assert re.search(r"vidatlas extraction vs naive: \*\*[\d.]+x\*\*", text)


def test_encoding_benchmark_quick():
    text = run(ROOT / "bench" / "encoding.py", "--quick")
    rows = table_rows(text, 4)
    assert "one process's memory (frameindex.build)" in rows
    assert rows["blocks of 65,536 frames joined on disk (encoding.build)"][0].startswith("IVF")


def test_quality_benchmark_quick():
    text = run(ROOT / "bench" / "quality.py", "--quick")
    overall = re.search(r"\| \*\*all\*\* \| \*\*([\d.]+) /", text)
    assert overall and float(overall.group(1)) >= 0.96  # transformed copies and clips found at rank 1
    assert "True copy ranked above its reordered twin: 1.00" in text
    assert re.search(r"Noise/flash videos among the top 4 outliers: 4 of 4", text)
    # shared places: the oracles score perfectly, and the content nine shares nothing
    plain, copies = text.split("The same collections with", 1)
    assert "| oracle: the nine anchors (disjoint by construction) | 0.000 |" in plain
    assert "| vidatlas FindDissimilar, content mode (default) | 0.000 |" in plain
    # with transformed copies added, the nine still shares less than random nines do
    assert re.search(r"Copies among vidatlas's content nine: \d", copies)
    rows = table_rows(copies.split("### Farthest", 1)[0], 4)
    assert float(rows["vidatlas FindDissimilar, content mode (default)"][0]) < float(rows["random nines (mean of 50 per collection)"][0])
    # the farthest from a query video leave out every video that shares a place with it
    far = re.search(r"\| vidatlas FindDissimilar with a query, content mode \(default: view-checked\) \| (\d+) \| (\d+) \(", text)
    assert far and int(far.group(1)) > 0 and far.group(1) == far.group(2)
    assert "| oracle (the truth) | 1.000 | 1.000 |" in text


def table_rows(text: str, columns: int) -> dict[str, list[str]]:
    """Markdown table rows with ``columns`` cells, by their first cell."""
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == columns and not set(cells[1]) <= set("-"):
            out[cells[0]] = cells[1:]
    return out


def test_serving_benchmark_quick():
    text = run(ROOT / "bench" / "serving.py", "--quick")
    rows = table_rows(text, 5)
    empty = next(v for k, v in rows.items() if k.startswith("empty RPC (GetInfo)"))
    rpcs = ("FindSimilar", "FindDissimilar", "LabelVideo")
    workloads = {k: v for k, v in rows.items() if re.match(r"\w+", k).group() in rpcs}
    assert set(rpcs) <= {re.match(r"\w+", k).group() for k in workloads}
    for name, (rps, p50, p99, ratio) in {**workloads, "empty": empty}.items():
        assert float(rps) > 0 and 0 < float(p50) <= float(p99), name
        # the ratio column is this row's throughput over the empty RPC's, from the same run
        assert float(ratio) == pytest.approx(float(rps) / float(empty[0]), abs=0.011), name
    assert "Brute-force numpy candidate search" in text


def test_map_quality_benchmark_quick():
    text = run(ROOT / "bench" / "mapquality.py", "--quick")
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"\| 2k \| ([^|]+?) \| ([\d.]+) \| ([\d.]+) \|", text)}
    ours, seed, pca2 = (rows[k] for k in ("vidatlas, neighbours objective (default)", "vidatlas, seed objective", "PCA-2"))
    # both maps keep neighbourhoods better than a linear 2-D; the default keeps clearly more than the seed's
    assert seed[0] > pca2[0] and seed[1] > pca2[1]
    assert ours[0] > seed[0] + 0.05 and ours[1] > pca2[1]


def test_memory_benchmark_quick():
    text = run(ROOT / "bench" / "memory.py", "--quick")
    rows = table_rows(text, 14)
    small, large = rows["25,000"], rows["50,000"]
    for frames, (kind, per_frame, mib, build_mib, build_s, recall, load_s, loaded, peak, split, whole, ranged,
                 limit) in (
            (25_000, small), (50_000, large)):
        assert kind.startswith("IVF") and kind.endswith("SQ8")  # past 20k frames, well inside 4 GiB
        assert float(per_frame) * frames == pytest.approx(float(mib) * 2**20, rel=0.05)
        assert float(recall) >= 0.9 and float(load_s) > 0 and float(build_s) > 0
        assert 0 < float(loaded.replace(",", "")) <= float(peak.replace(",", ""))
        assert sum(float(x.replace(",", "")) for x in split.split(" + ")) <= float(peak.replace(",", "")) + 1
        for cell in (whole, ranged):
            p50, p99 = (float(x) for x in cell.split(" / "))
            assert 0 < p50 <= p99
        assert limit == "none"
    # the same kind of index at both sizes: about the same bytes a frame, twice the frames about twice the bytes
    assert float(large[1]) == pytest.approx(float(small[1]), rel=0.1)
    assert 1.6 < float(large[2]) / float(small[2]) < 2.4


def test_pictures_benchmark_quick():
    text = run(ROOT / "bench" / "pictures.py", "--quick")
    assert "poster 11x18 of 534x300 (--full-res from 720p sources) | 5874x5400" in text
    assert "view: HTML page" in text


def test_duplicates_benchmark_quick():
    left = lambda: set(Path(tempfile.gettempdir()).glob("vidatlas-duplicates-*"))  # noqa: E731
    before = left()
    text = run(ROOT / "bench" / "duplicates.py", "--quick")
    assert left() <= before  # its videos and bundle are removed when it exits
    rows = table_rows(text, 7)
    ours = next(v for k, v in rows.items() if k.startswith("vidatlas duplicate groups"))
    peer = next(v for k, v in rows.items() if k.startswith("mean-feature cosine"))
    assert int(ours[1]) > 0 and int(peer[0]) >= int(ours[0])  # the peer links as many pairs
    kinds = table_rows(text, 2)
    assert kinds["twin"][0].split(" of ")[0] == kinds["twin"][0].split(" of ")[1]  # every reordered twin grouped
