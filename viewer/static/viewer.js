"use strict";
// vidatlas map viewer: frame tiles over the 2-D map (each tile shows the frame nearest its
// centre, as on a poster), pan and zoom, hover for video and time, click for a video's path and
// its most similar videos (precomputed into the page, or asked of the service serving the page).
(function () {
  const D = JSON.parse(document.getElementById("atlas-data").textContent);
  const N = D.x.length;
  const [TW, TH] = D.tile;                    // sprite tile size (pixels) = tile size on screen
  const PER_SHEET = D.sheet_cols * D.sheet_rows;
  const MAX_GAP = 0.5;                        // tile diagonals: farther frames leave a tile empty
  const PATH_COLOURS = ["#ff453a", "#32d74b", "#0a84ff", "#ffd60a"];  // the video, then its 3 nearest
  const canvas = document.getElementById("map");
  const ctx = canvas.getContext("2d");
  const tooltip = document.getElementById("tooltip");
  const panel = document.getElementById("panel");
  const idIndex = new Map(D.videos.map((v, i) => [v.id, i]));
  const pointVideo = new Int32Array(N);
  D.videos.forEach((v, i) => { for (let p = v.start; p < v.end; p++) pointVideo[p] = i; });

  const api = {
    ready: false, source: null, stats: { drawn: 0, cells: 0, renders: 0 },
    state: { selected: null, point: null, similar: [], paths: [] },
  };
  window.vidatlas = api;

  // ---- nearest frame: a uniform bucket grid over the points' bounding box -------------------
  const G = Math.max(8, Math.min(256, Math.round(Math.sqrt(N / 2))));
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let p = 0; p < N; p++) {
    minX = Math.min(minX, D.x[p]); maxX = Math.max(maxX, D.x[p]);
    minY = Math.min(minY, D.y[p]); maxY = Math.max(maxY, D.y[p]);
  }
  if (!N) { minX = minY = -1; maxX = maxY = 1; }
  const bw = Math.max(maxX - minX, 1e-9) / G, bh = Math.max(maxY - minY, 1e-9) / G;
  const buckets = Array.from({ length: G * G }, () => []);
  const bucketOf = (v, lo, size) => Math.min(G - 1, Math.max(0, Math.floor((v - lo) / size)));
  for (let p = 0; p < N; p++) buckets[bucketOf(D.y[p], minY, bh) * G + bucketOf(D.x[p], minX, bw)].push(p);

  function nearest(x, y, maxDist) {
    // rings of buckets around (x, y) until no closer point can exist
    const bx = Math.floor((x - minX) / bw), by = Math.floor((y - minY) / bh);
    let best = -1, bestD = maxDist * maxDist;
    const cell = Math.min(bw, bh);
    for (let r = 0; r <= G * 2; r++) {
      // the nearest any point in ring r can be (once r >= 1) is (r - 1) bucket sizes
      if (r > 0 && ((r - 1) * cell) ** 2 > bestD) break;
      for (let j = by - r; j <= by + r; j++) {
        if (j < 0 || j >= G) continue;
        const full = j === by - r || j === by + r;
        for (let i = bx - r; i <= bx + r; i += full ? 1 : 2 * r || 1) {
          if (i < 0 || i >= G) continue;
          for (const p of buckets[j * G + i]) {
            const d = (D.x[p] - x) ** 2 + (D.y[p] - y) ** 2;
            if (d < bestD || (d === bestD && p < best)) { bestD = d; best = p; }
          }
        }
      }
    }
    return best;
  }

  // ---- view: map units <-> canvas pixels (y up on the map, down on screen) ------------------
  const view = { cx: 0, cy: 0, scale: 1 };
  let W = 0, H = 0;
  function fit() {
    const w = Math.max(maxX - minX, 0.2), h = Math.max(maxY - minY, 0.2);
    view.cx = (minX + maxX) / 2; view.cy = (minY + maxY) / 2;
    view.scale = Math.min(W / w, H / h) * 0.95;
    view.fitScale = view.scale;
  }
  const toScreen = (x, y) => [W / 2 + (x - view.cx) * view.scale, H / 2 - (y - view.cy) * view.scale];
  const toMap = (sx, sy) => [view.cx + (sx - W / 2) / view.scale, view.cy - (sy - H / 2) / view.scale];

  const sheets = D.sheets.map((src) => { const im = new Image(); im.src = src; return im; });
  function drawSprite(target, p, dx, dy, dw, dh) {
    const k = p % PER_SHEET, sheet = sheets[Math.floor(p / PER_SHEET)];
    target.drawImage(sheet, (k % D.sheet_cols) * TW, Math.floor(k / D.sheet_cols) * TH, TW, TH, dx, dy, dw, dh);
  }

  // ---- rendering: tiles anchored to the map so they move with it while panning --------------
  let cells = new Map();          // "i,j" -> point shown in that tile
  let hover = null;
  function render() {
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, W, H);
    const cw = TW / view.scale, ch = TH / view.scale;    // tile size in map units
    const gap = MAX_GAP * Math.hypot(cw, ch);
    const [x0, y1] = toMap(0, 0), [x1, y0] = toMap(W, H);
    cells = new Map();
    let drawn = 0, total = 0;
    for (let j = Math.floor(y0 / ch); j * ch <= y1; j++) {
      for (let i = Math.floor(x0 / cw); i * cw <= x1; i++) {
        total++;
        const p = nearest((i + 0.5) * cw, (j + 0.5) * ch, gap);
        if (p < 0) continue;
        const [sx, sy] = toScreen(i * cw, (j + 1) * ch);
        drawSprite(ctx, p, Math.round(sx), Math.round(sy), TW, TH);
        cells.set(i + "," + j, p);
        drawn++;
      }
    }
    if (document.getElementById("dots").checked) {
      ctx.fillStyle = "rgba(255,255,255,.8)";
      for (let p = 0; p < N; p++) { const [sx, sy] = toScreen(D.x[p], D.y[p]); ctx.fillRect(sx - 1.5, sy - 1.5, 3, 3); }
    }
    api.state.paths.forEach((v, n) => drawPath(v, PATH_COLOURS[n % PATH_COLOURS.length], n === 0 ? 3.5 : 2.2));
    if (hover) {
      const [sx, sy] = toScreen(hover.i * cw, (hover.j + 1) * ch);
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 2; ctx.strokeRect(Math.round(sx) + 1, Math.round(sy) + 1, TW - 2, TH - 2);
    }
    api.stats = { drawn, cells: total, renders: api.stats.renders + 1, cellWidth: cw, cellHeight: ch };
  }

  function drawPath(v, colour, width) {
    const { start, end } = D.videos[v];
    if (end <= start) return;
    ctx.save();
    ctx.strokeStyle = "rgba(0,0,0,.7)"; ctx.lineWidth = width + 3; ctx.lineJoin = "round";
    const trace = () => { ctx.beginPath(); for (let p = start; p < end; p++) { const [sx, sy] = toScreen(D.x[p], D.y[p]); p === start ? ctx.moveTo(sx, sy) : ctx.lineTo(sx, sy); } };
    trace(); ctx.stroke();
    ctx.strokeStyle = colour; ctx.lineWidth = width; trace(); ctx.stroke();
    // direction: small arrowheads at segment midpoints, start circle, end square
    ctx.fillStyle = colour;
    for (let p = start + 1; p < end; p++) {
      const [ax, ay] = toScreen(D.x[p - 1], D.y[p - 1]), [bx, by] = toScreen(D.x[p], D.y[p]);
      const len = Math.hypot(bx - ax, by - ay);
      if (len < 18) continue;
      const a = Math.atan2(by - ay, bx - ax), mx = (ax + bx) / 2, my = (ay + by) / 2;
      ctx.beginPath(); ctx.moveTo(mx + 7 * Math.cos(a), my + 7 * Math.sin(a));
      ctx.lineTo(mx + 7 * Math.cos(a + 2.5), my + 7 * Math.sin(a + 2.5));
      ctx.lineTo(mx + 7 * Math.cos(a - 2.5), my + 7 * Math.sin(a - 2.5)); ctx.fill();
    }
    const [s0, s1] = toScreen(D.x[start], D.y[start]), [e0, e1] = toScreen(D.x[end - 1], D.y[end - 1]);
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(s0, s1, 6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    ctx.fillRect(e0 - 5, e1 - 5, 10, 10); ctx.strokeRect(e0 - 5, e1 - 5, 10, 10);
    ctx.restore();
  }

  function resize() {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const first = !W;
    W = r.width; H = r.height;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    if (first) fit();
    render();
  }

  // ---- what is under the pointer --------------------------------------------------------------
  function cellAt(clientX, clientY) {
    const r = canvas.getBoundingClientRect();
    const [x, y] = toMap(clientX - r.left, clientY - r.top);
    const cw = TW / view.scale, ch = TH / view.scale;
    const i = Math.floor(x / cw), j = Math.floor(y / ch);
    const p = cells.get(i + "," + j);
    return p === undefined ? null : { i, j, p };
  }
  const fmtTime = (t) => t >= 3600 ? new Date(t * 1000).toISOString().substring(11, 19)
    : t >= 60 ? Math.floor(t / 60) + ":" + (t % 60).toFixed(1).padStart(4, "0") : t.toFixed(1) + " s";
  // the screen rectangle (client coordinates) of every drawn tile, for tests and tools
  api.tiles = () => {
    const r = canvas.getBoundingClientRect(), cw = TW / view.scale, ch = TH / view.scale;
    return [...cells].map(([key, p]) => {
      const [i, j] = key.split(",").map(Number);
      const [sx, sy] = toScreen(i * cw, (j + 1) * ch);
      return { point: p, frame: D.frame[p], video: D.videos[pointVideo[p]].id, time: D.t[p],
               left: r.left + Math.round(sx), top: r.top + Math.round(sy), width: TW, height: TH };
    });
  };
  api.screenOf = (x, y) => {   // client coordinates of a map position
    const r = canvas.getBoundingClientRect(), [sx, sy] = toScreen(x, y);
    return { left: r.left + sx, top: r.top + sy };
  };
  api.pathOf = (videoId) => {
    const v = idIndex.get(videoId), { start, end } = D.videos[v], out = [];
    for (let p = start; p < end; p++) out.push({ x: D.x[p], y: D.y[p], t: D.t[p], frame: D.frame[p] });
    return out;
  };

  // ---- selection: path + similar videos --------------------------------------------------------
  async function similarOf(v) {
    if (D.api) {
      try {
        const res = await fetch(D.api + "?video=" + encodeURIComponent(D.videos[v].id) + "&k=" + D.similar_k);
        const body = await res.json();
        if (!res.ok) throw new Error(body.error || res.statusText);
        const note = body.bundle_version && body.bundle_version !== D.version
          ? " (service serves " + body.bundle_version + ", page shows " + D.version + ")" : "";
        return { source: "service" + note, items: body.results.filter((r) => idIndex.has(r.video_id))
          .map((r) => ({ video: idIndex.get(r.video_id), score: r.score })) };
      } catch (err) {
        if (!D.similar) return { source: "service unavailable: " + err.message, items: [] };
        return { source: "precomputed (service unavailable: " + err.message + ")", items: precomputed(v) };
      }
    }
    if (!D.similar) return { source: "none: the page was written without similar videos", items: [] };
    return { source: "precomputed", items: precomputed(v) };
  }
  const precomputed = (v) => (D.similar[v] || []).map(([u, s]) => ({ video: u, score: s }));

  let selection = 0;
  async function select(v, p) {
    const mine = ++selection;
    api.ready = false;
    api.state = { selected: D.videos[v].id, point: p, similar: [], paths: [v] };
    render();
    const vid = D.videos[v];
    panel.innerHTML = "";
    const h = document.createElement("h2"); h.textContent = vid.id; panel.appendChild(h);
    const meta = document.createElement("p"); meta.className = "meta";
    meta.textContent = (p != null ? "frame at " + fmtTime(D.t[p]) + " · " : "") + fmtTime(vid.duration) + " long · "
      + (vid.end - vid.start) + " frames shown · path: circle = start, square = end";
    panel.appendChild(meta);
    panel.appendChild(strip(v, PATH_COLOURS[0]));
    const sim = await similarOf(v);
    if (mine !== selection) return;
    api.source = sim.source;
    api.state = { ...api.state, similar: sim.items.map((it) => ({ video: D.videos[it.video].id, score: it.score })),
                  paths: [v, ...sim.items.slice(0, PATH_COLOURS.length - 1).map((it) => it.video)] };
    const title = document.createElement("h2"); title.textContent = "Most similar videos"; panel.appendChild(title);
    const src = document.createElement("p"); src.className = "source"; src.textContent = "from " + sim.source; panel.appendChild(src);
    const list = document.createElement("ol"); list.id = "similar";
    sim.items.forEach((it, n) => {
      const li = document.createElement("li");
      const colour = n + 1 < PATH_COLOURS.length ? PATH_COLOURS[n + 1] : "#666";
      li.style.setProperty("--colour", colour);
      li.dataset.video = D.videos[it.video].id;
      li.innerHTML = "<span class=score></span><span class=name></span>";
      li.querySelector(".score").textContent = it.score.toFixed(3);
      li.querySelector(".name").textContent = (n + 1) + ". " + D.videos[it.video].id;
      li.appendChild(strip(it.video, colour));
      li.addEventListener("click", () => select(it.video, null));
      list.appendChild(li);
    });
    if (!sim.items.length) { const none = document.createElement("p"); none.textContent = "no similar videos"; panel.appendChild(none); }
    panel.appendChild(list);
    render();
    api.ready = true;
  }
  api.select = (videoId) => select(idIndex.get(videoId), null);

  function strip(v, colour) {
    const { start, end } = D.videos[v], n = Math.min(4, end - start);
    const c = document.createElement("canvas"); c.className = "strip";
    c.width = 4 * TW; c.height = TH;
    const g = c.getContext("2d");
    g.fillStyle = "#000"; g.fillRect(0, 0, c.width, c.height);
    for (let k = 0; k < n; k++) {
      const p = start + Math.round(k * (end - start - 1) / Math.max(n - 1, 1));
      drawSprite(g, p, k * TW, 0, TW - 2, TH);
    }
    c.style.borderBottom = "3px solid " + colour;
    return c;
  }

  function clear() {
    selection++;
    api.state = { selected: null, point: null, similar: [], paths: [] };
    panel.innerHTML = '<p class="hint">Click a frame to see its video\'s path through the map and the videos most like it.</p>';
    render();
  }

  // ---- input ---------------------------------------------------------------------------------
  function zoom(factor, sx = W / 2, sy = H / 2) {
    const [mx, my] = toMap(sx, sy);
    view.scale = Math.min(view.fitScale * 500, Math.max(view.fitScale / 4, view.scale * factor));
    view.cx = mx - (sx - W / 2) / view.scale; view.cy = my + (sy - H / 2) / view.scale;
    render();
  }
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, cx: view.cx, cy: view.cy, moved: false }; });
  window.addEventListener("mouseup", (e) => {
    if (drag && !drag.moved) {
      const c = cellAt(e.clientX, e.clientY);
      if (c) select(pointVideo[c.p], c.p);
    }
    drag = null; canvas.classList.remove("dragging");
  });
  window.addEventListener("mousemove", (e) => {
    if (drag) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (drag.moved) {
        canvas.classList.add("dragging");
        view.cx = drag.cx - dx / view.scale; view.cy = drag.cy + dy / view.scale;
        tooltip.hidden = true; render(); return;
      }
    }
    const c = e.target === canvas ? cellAt(e.clientX, e.clientY) : null;
    const changed = (c && c.i + "," + c.j) !== (hover && hover.i + "," + hover.j);
    hover = c;
    if (c) {
      tooltip.textContent = D.videos[pointVideo[c.p]].id + " · " + fmtTime(D.t[c.p]);
      tooltip.style.left = e.clientX + 14 + "px"; tooltip.style.top = e.clientY + 12 + "px";
      tooltip.hidden = false;
    } else tooltip.hidden = true;
    if (changed) render();
  });
  canvas.addEventListener("mouseleave", () => { tooltip.hidden = true; if (hover) { hover = null; render(); } });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  document.getElementById("zoom-in").onclick = () => zoom(1.5);
  document.getElementById("zoom-out").onclick = () => zoom(1 / 1.5);
  document.getElementById("zoom-reset").onclick = () => { fit(); render(); };
  document.getElementById("dots").onchange = render;
  window.addEventListener("keydown", (e) => {
    const step = 60 / view.scale;
    const keys = { "+": () => zoom(1.5), "=": () => zoom(1.5), "-": () => zoom(1 / 1.5), "0": () => { fit(); render(); },
      Escape: clear, d: () => { const b = document.getElementById("dots"); b.checked = !b.checked; render(); },
      ArrowLeft: () => { view.cx -= step; render(); }, ArrowRight: () => { view.cx += step; render(); },
      ArrowUp: () => { view.cy += step; render(); }, ArrowDown: () => { view.cy -= step; render(); } };
    if (keys[e.key]) { keys[e.key](); e.preventDefault(); }
  });
  window.addEventListener("resize", resize);

  document.getElementById("title").textContent = D.title;
  document.getElementById("counts").textContent = D.videos.length + " videos · " + N + " frames shown"
    + (D.frames_total > N ? " of " + D.frames_total : "") + " · " + D.version;
  Promise.all(sheets.map((im) => im.decode ? im.decode() : new Promise((ok) => { im.onload = ok; }))).then(() => {
    resize();
    api.ready = true;
  });
})();
