"""The benchmarks keep working: each runs once at its --quick size (numbers are not asserted,
except the quality floor the product promises)."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    out = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_indexing_benchmark_quick():
    text = run(ROOT / "bench" / "indexing.py", "--quick", "--no-seed-recipe")
    assert "vidatlas extraction" in text and "naive = decode-all then backbone" in text
    assert re.search(r"vidatlas extraction vs naive: \*\*[\d.]+x\*\*", text)


def test_quality_benchmark_quick():
    text = run(ROOT / "bench" / "quality.py", "--quick")
    overall = re.search(r"\| \*\*all\*\* \| \*\*([\d.]+) /", text)
    assert overall and float(overall.group(1)) >= 0.96  # transformed copies and clips found at rank 1
    assert "True copy ranked above its reordered twin: 1.00" in text
    assert re.search(r"Noise/flash videos among the top 4 outliers: 4 of 4", text)


def test_serving_benchmark_quick():
    text = run(ROOT / "bench" / "serving.py", "--quick")
    for row in ("empty RPC (GetInfo)", "FindSimilar, uncached", "FindSimilar, cached", "FindDissimilar", "LabelVideo"):
        assert row in text
    assert "Brute-force numpy candidate search" in text


def test_map_quality_benchmark_quick():
    text = run(ROOT / "bench" / "mapquality.py", "--quick")
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"\| 2k \| ([^|]+?) \| ([\d.]+) \| ([\d.]+) \|", text)}
    ours, pca2 = rows["vidatlas autoencoder (PCA-256 -> 2-D)"], rows["PCA-2"]
    assert ours[0] > pca2[0] and ours[1] > pca2[1]  # the map keeps neighbourhoods better than a linear 2-D


def test_memory_benchmark_quick():
    text = run(ROOT / "bench" / "memory.py", "--quick")
    assert "| 10,000 |" in text and "| 50,000 |" in text and "server peak RSS MiB" in text


def test_pictures_benchmark_quick():
    text = run(ROOT / "bench" / "pictures.py", "--quick")
    assert "poster 11x18 of 534x300 (--full-res from 720p sources) | 5874x5400" in text
    assert "view: HTML page" in text
