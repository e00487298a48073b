"""The HTML viewer in a real headless Chromium (the system's, driven by Playwright): opened from
disk with precomputed results, and served by ``vidatlas view --serve`` in front of a real gRPC
server."""
import io
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from indexer.errors import Exit
from indexer import read_bundle
from query.search import Searcher
from service.server import create_server
from service.settings import ServiceSettings
from viewer.browser import browser, open_viewer
from viewer.page import PageSettings, page_data, render_page


@pytest.fixture(scope="module")
def searcher(atlas):
    return Searcher(read_bundle(atlas))


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-9))


def _half(picture):
    return picture.resize((picture.width // 2, picture.height // 2), Image.Resampling.BOX)


def _map_box(page) -> tuple[float, float, float, float]:
    """The map canvas's (left, top, right, bottom) on the page (the side panel's padding and
    border make it narrower than the window less the panel's width)."""
    box = page.evaluate("(() => { const r = document.getElementById('map').getBoundingClientRect();"
                        " return [r.left, r.top, r.right, r.bottom]; })()")
    return tuple(box)


def inside(tiles, left, top, right, bottom):
    return [t for t in tiles if t["left"] >= left and t["top"] >= top and t["left"] + t["width"] <= right
            and t["top"] + t["height"] <= bottom]


def test_page_from_disk_renders_frames_hovers_and_clicks(searcher, chromium, tmp_path):
    bundle = searcher.bundle
    page_file = tmp_path / "atlas.html"
    page_file.write_text(render_page(page_data(bundle, PageSettings(similar_k=3, progress=False), searcher)))
    page = open_viewer(chromium, page_file.as_uri(), 1200, 800)
    tiles = page.evaluate("vidatlas.tiles()")
    assert len(tiles) >= 10 and page.evaluate("vidatlas.stats.drawn") == len(tiles)
    shot = Image.open(io.BytesIO(page.screenshot()))
    full = inside(tiles, *_map_box(page))  # on the map, clear of the header and the side panel
    assert len(full) >= 5
    for t in full[:8]:  # each tile on screen is its frame: closer to it than to any other frame
        crop = shot.crop((t["left"], t["top"], t["left"] + t["width"], t["top"] + t["height"])).convert("RGB")
        own = Image.fromarray(bundle.frames[t["frame"]]).resize((96, 54), Image.Resampling.LANCZOS)
        # compared at half the tile's size: the browser's scaling filter is not LANCZOS, which
        # leaves detailed frames barely above 24 dB at full size (24.0-24.2 dB measured)
        assert psnr(_half(crop), _half(own)) > 24, t
        others = [psnr(crop, Image.fromarray(bundle.frames[f]).resize((96, 54))) for f in range(len(bundle.frames))
                  if not np.array_equal(bundle.frames[f], bundle.frames[t["frame"]])]
        assert psnr(crop, own) > max(others), t

    t = full[len(full) // 2]
    cx, cy = t["left"] + t["width"] / 2, t["top"] + t["height"] / 2
    page.mouse.move(cx, cy)
    tip = page.locator("#tooltip")
    assert tip.is_visible()
    assert tip.inner_text() == f"{t['video']} · {t['time']:.1f} s"

    page.mouse.click(cx, cy)
    page.wait_for_function("vidatlas.ready && vidatlas.state.selected !== null")
    state = page.evaluate("vidatlas.state")
    assert state["selected"] == t["video"]
    expected = [m.video_id for m in searcher.similar(searcher.query_for_video(t["video"]), 3)]
    assert [s["video"] for s in state["similar"]] == expected
    assert page.evaluate("vidatlas.source") == "precomputed"
    assert page.locator("#similar li").evaluate_all("els => els.map(e => e.dataset.video)") == expected
    assert page.locator("#panel h2").first.inner_text() == t["video"]

    path = page.evaluate("id => vidatlas.pathOf(id)", t["video"])  # the drawn path: the video's frames in time order
    i = searcher.video_row(t["video"])
    rows = np.arange(searcher.offsets[i], searcher.offsets[i + 1])
    assert [p["frame"] for p in path] == rows[np.argsort(searcher.frame_time[rows])].tolist()
    assert all(a["t"] < b["t"] for a, b in zip(path, path[1:]))
    np.testing.assert_allclose([[p["x"], p["y"]] for p in path], searcher.codes[[p["frame"] for p in path]], atol=1e-4)
    page.mouse.move(5, 5)  # no hover outline over the marker
    shot = Image.open(io.BytesIO(page.screenshot(path=tmp_path / "viewer.png"))).convert("RGB")
    end = page.evaluate("([x, y]) => vidatlas.screenOf(x, y)", [path[-1]["x"], path[-1]["y"]])
    if 40 < end["top"] < 795 and 0 < end["left"] < 1200 - 360:  # the end square, in the selection's colour
        px = np.asarray(shot)[int(end["top"]), int(end["left"])]
        assert np.abs(px.astype(int) - [255, 69, 58]).max() < 40, px
    assert (tmp_path / "viewer.png").stat().st_size > 10_000

    cell = page.evaluate("vidatlas.stats.cellWidth")
    page.keyboard.press("+")
    assert page.evaluate("vidatlas.stats.cellWidth") == pytest.approx(cell / 1.5)
    assert page.evaluate("vidatlas.stats.drawn") > 0
    page.mouse.move(400, 400)
    page.mouse.down()
    page.mouse.move(300, 350, steps=5)
    page.mouse.up()
    assert page.evaluate("vidatlas.state.selected") == t["video"]  # a drag is not a click
    page.keyboard.press("Escape")
    assert page.evaluate("vidatlas.state.selected") is None
    assert page.errors == []


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_served_page_asks_the_service(searcher, atlas, chromium, tmp_path):
    root = tmp_path / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work"))
    server, port, _, _ = create_server(ServiceSettings(bundle=str(root), reload_interval_s=0), "127.0.0.1:0")
    server.start()
    proc = subprocess.Popen([sys.executable, "-m", "vidatlas", "view", "--bundle", str(root), "--serve",
                             "--port", "0", "--server", f"127.0.0.1:{port}", "--similar-k", "0", "--no-progress"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "serving the viewer at http://127.0.0.1:" in line, line
        url = line.split(" at ")[1].split()[0]
        status, body = get_json(url + "api/similar?video=a/harbour&k=2")
        assert status == 200
        assert [r["video_id"] for r in body["results"]] == \
            [m.video_id for m in searcher.similar(searcher.query_for_video("a/harbour"), 2)]
        assert get_json(url + "api/similar?video=no/such")[0] == 404
        assert get_json(url + "api/similar?video=a/harbour&k=x")[0] == 400
        assert get_json(url + "nothing")[0] == 404

        page = open_viewer(chromium, url, 1200, 800)
        page.evaluate("vidatlas.select('b/quarry')")
        page.wait_for_function("vidatlas.ready && vidatlas.state.similar.length > 0")
        assert page.evaluate("vidatlas.source") == "service"
        assert [s["video"] for s in page.evaluate("vidatlas.state.similar")] == \
            [m.video_id for m in searcher.similar(searcher.query_for_video("b/quarry"), 5)]
        server.stop(0).wait()  # the service goes away: the page says so instead of failing
        page.evaluate("vidatlas.select('a/museum')")
        page.wait_for_function("vidatlas.ready && vidatlas.state.selected === 'a/museum'")
        assert page.evaluate("vidatlas.source").startswith("service unavailable")
        assert page.errors == []
    finally:
        server.stop(0)
        proc.terminate()
        proc.wait(timeout=10)


def test_view_command_writes_a_page_and_refuses_what_cannot_work(atlas, tmp_path, capsys):
    from vidatlas.cli import main as cli
    out = tmp_path / "v" / "page.html"
    assert cli(["view", "--bundle", str(atlas), "--out", str(out), "--max-frames", "20", "--similar-k", "2",
                "--no-progress"]) == 0
    html = out.read_text()
    data = json.loads(html.split('<script id="atlas-data" type="application/json">')[1].split("</script>")[0])
    bundle = read_bundle(atlas)
    assert len(bundle.video_ids) <= len(data["x"]) <= 20 + len(bundle.video_ids)  # subsampled, >= 1 per video
    assert [v["id"] for v in data["videos"]] == bundle.video_ids
    assert all(len(s) == 2 for s in data["similar"])
    with pytest.raises(SystemExit) as exit_:
        cli(["view", "--bundle", str(atlas), "--out", str(out), "--server", "127.0.0.1:1"])
    assert exit_.value.code == Exit.USAGE and "--server needs --serve" in capsys.readouterr().err
    assert cli(["view", "--bundle", str(atlas), "--tile-size", "4x4", "--out", str(out)]) == Exit.INVALID_ARGUMENT


def test_page_data_cannot_break_out_of_its_script_tag(searcher):
    data = page_data(searcher.bundle, PageSettings(max_frames=10, similar_k=0, progress=False,
                                                   title="<b>atlas</b> & co"), searcher)
    data["videos"][0]["id"] = "</script><script>alert(1)</script>"
    html = render_page(data)
    assert html.count("</script>") == 2  # the data's and the code's own closing tags only
    assert "<title>&lt;b&gt;atlas&lt;/b&gt; &amp; co</title>" in html
    payload = html.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(payload)["videos"][0]["id"] == "</script><script>alert(1)</script>"
