"""The map as a picture: every frame at its 2-D position, coloured by video, label or cluster,
with chosen videos' paths drawn as ordered lines and, beside the plot, a strip of each chosen
video's frames (the seed's Figures 3 and 4)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from indexer import Bundle, Code, VidatlasError
from indexer.labels import ADDED, attach, read_added
from query.labelling import digest
from query.labelling import label as label_video
from query.search import Searcher, check_k

COLOUR_BY = ("video", "label", "cluster")
LEGEND_MAX = 20           # more groups than this get no legend (colours repeat)
PATH_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
                "#9a6324", "#800000", "#469990", "#808000", "#000075"]


@dataclass(frozen=True)
class MapSettings:
    colour_by: str = "video"
    paths: tuple[str, ...] = ()       # video ids whose paths are drawn
    dissimilar: int = 0               # draw the paths of this many most dissimilar videos
    similar: str | None = None        # draw this video's path and its nearest videos' paths
    k: int = 5                        # how many nearest videos with ``similar``
    strips: bool = True               # a strip of frames beside the plot for every drawn path
    strip_frames: int = 6
    width: int = 1800                 # pixels
    height: int = 1100
    dpi: int = 100
    title: str | None = None
    labels: tuple = ()                # extra labelled frames (video_id, time_s, label) for colour_by="label"

    def validate(self) -> None:
        if self.colour_by not in COLOUR_BY:
            raise VidatlasError(f"colour by {self.colour_by!r}: choose one of {', '.join(COLOUR_BY)}",
                                Code.INVALID_ARGUMENT)
        if not (200 <= self.width <= 20000 and 200 <= self.height <= 20000 and 20 <= self.dpi <= 1200):
            raise VidatlasError("picture size must be 200..20000 pixels a side, dpi 20..1200", Code.INVALID_ARGUMENT)
        if not 1 <= self.strip_frames <= 32:
            raise VidatlasError("strip frames must be 1..32", Code.INVALID_ARGUMENT)


@dataclass
class Chosen:
    """A video whose path is drawn: its map positions in time order and what the legend says."""

    video_id: str
    times: np.ndarray
    codes: np.ndarray
    caption: str
    colour: str
    frames: np.ndarray                # frame rows, time order


@dataclass
class MapPlot:
    figure: Figure
    chosen: list[Chosen] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)   # legend names of the colour groups
    frame_group: np.ndarray | None = None              # group number of every frame

    def save(self, path) -> None:
        self.figure.savefig(path, dpi=self.figure.dpi, facecolor="white")


def video_path(searcher: Searcher, video_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A video's path: ``(frame rows, times, codes)`` in time order."""
    i = searcher.video_row(video_id)
    rows = np.arange(int(searcher.offsets[i]), int(searcher.offsets[i + 1]))
    rows = rows[np.argsort(searcher.frame_time[rows], kind="stable")]
    return rows, searcher.frame_time[rows], searcher.codes[rows]


def choose(searcher: Searcher, s: MapSettings) -> list[Chosen]:
    """The videos whose paths are drawn, with captions, in legend order."""
    picks: list[tuple[str, str]] = []
    if s.similar is not None:
        q = searcher.query_for_video(s.similar)
        picks.append((s.similar, f"query {s.similar}"))
        picks += [(m.video_id, f"{m.video_id}  similarity {m.score:.3f}") for m in searcher.similar(q, check_k(s.k))]
    if s.dissimilar:
        picks += [(m.video_id, f"{m.video_id}  min distance {m.score:.3f}") for m in searcher.dissimilar(check_k(s.dissimilar))]
    picks += [(v, v) for v in s.paths]
    out, seen = [], set()
    for vid, caption in picks:
        if vid in seen:
            continue
        seen.add(vid)
        rows, times, codes = video_path(searcher, vid)
        n = len(out)
        out.append(Chosen(vid, times, codes, f"{n + 1}. {caption}", PATH_COLOURS[n % len(PATH_COLOURS)], rows))
    return out


def frame_groups(searcher: Searcher, s: MapSettings) -> tuple[np.ndarray, list[str]]:
    """Group number of every frame and the groups' names, for ``s.colour_by``."""
    if s.colour_by == "video":
        return searcher.frame_video.astype(np.int64), list(searcher.ids)
    if s.colour_by == "cluster":
        d = ((searcher.codes[:, None, :] - searcher.centres[None]) ** 2).sum(-1)
        return d.argmin(axis=1), [f"cluster-{i}" for i in range(len(searcher.centres))]
    bundle = searcher.bundle
    labels = [lb for lb in bundle.content.labels if "frame" in lb]
    extra = read_added(bundle.path.parent / ADDED)  # what `vidatlas labels add` gave the service
    if extra or s.labels:
        attached, warnings = attach([*extra, *s.labels], bundle.content.videos, searcher.offsets, searcher.frame_time)
        unknown = [w for w in warnings if any(repr(r["video_id"]) in w for r in s.labels)]
        if unknown:
            raise VidatlasError("; ".join(unknown[:3]), Code.INVALID_ARGUMENT)
        labels += attached
    if not labels:
        raise VidatlasError("no labelled frames (bundle, added labels or --labels): give --labels CSV, "
                            "or colour by video or cluster", Code.FAILED_PRECONDITION)
    names = sorted({lb["label"] for lb in labels})
    col = {n: i for i, n in enumerate(names)}
    groups = np.zeros(len(searcher.frame_video), np.int64)
    key = digest(labels)  # one label set for every video
    for vid in searcher.ids:
        q = searcher.query_for_video(vid)
        i = searcher.video_row(vid)
        a, b = int(searcher.offsets[i]), int(searcher.offsets[i + 1])
        result = label_video(searcher, q, labels, key=key)
        groups[a:b] = [col[lb] for _, lb, _ in result.frames]
    return groups, names


def _group_colours(n: int):
    from matplotlib import colormaps
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(max(n, 1))]


def render_map(bundle: Bundle, s: MapSettings = MapSettings(), searcher: Searcher | None = None) -> MapPlot:
    s.validate()
    searcher = searcher or Searcher(bundle)
    chosen = choose(searcher, s)
    groups, names = frame_groups(searcher, s)
    fig = Figure(figsize=(s.width / s.dpi, s.height / s.dpi), dpi=s.dpi)
    FigureCanvasAgg(fig)
    strips = s.strips and bool(chosen)
    if strips:
        grid = fig.add_gridspec(len(chosen), 2, width_ratios=[1.0, 1.05], left=0.05, right=0.99,
                                top=0.93, bottom=0.04, wspace=0.06, hspace=0.35)
        ax = fig.add_subplot(grid[:, 0])
    else:
        ax = fig.add_subplot(1, 1, 1)
    codes = searcher.codes
    n = len(codes)
    palette = _group_colours(len(names))
    colours = np.array([palette[g % len(palette)] for g in range(len(names))]) if names else np.zeros((1, 4))
    grey = bool(chosen) and s.colour_by == "video"  # the paths carry the video colours; the rest is background
    if grey:
        colours[:] = (0.55, 0.55, 0.55, 1.0)
    legend = [] if grey else names
    point = float(np.clip(6000.0 / max(n, 1), 0.3, 16.0))
    alpha = 0.35 if chosen else 0.8
    ax.scatter(codes[:, 0], codes[:, 1], s=point, c=colours[groups] if n else None, alpha=alpha,
               linewidths=0, rasterized=True, gid="frames")
    ax.add_patch(Circle((0, 0), 1.0, fill=False, lw=0.8, ls="--", color="0.6"))
    for c in chosen:
        ax.plot(c.codes[:, 0], c.codes[:, 1], "-", color=c.colour, lw=2.0, alpha=0.95, gid=f"path:{c.video_id}")
        ax.plot(*c.codes[0], "o", color=c.colour, ms=8, mec="black", mew=0.8)
        ax.plot(*c.codes[-1], "s", color=c.colour, ms=7, mec="black", mew=0.8)
        ax.annotate(c.caption.split(".")[0], c.codes[0], xytext=(5, 5), textcoords="offset points",
                    fontsize=10, weight="bold", color=c.colour)
    ax.set_xlim(-1.08, 1.08)
    ax.set_ylim(-1.08, 1.08)
    ax.set_aspect("equal")
    ax.set_xlabel("map x")
    ax.set_ylabel("map y")
    ax.grid(True, lw=0.3, alpha=0.5)
    group_legend = None
    if 0 < len(legend) <= LEGEND_MAX:
        group_handles = [Line2D([], [], ls="", marker="o", ms=7, color=colours[i], label=name)
                         for i, name in enumerate(legend)]
        group_legend = ax.legend(handles=group_handles, loc="lower left", bbox_to_anchor=(0.0, 0.0), fontsize=8,
                                 title=f"by {s.colour_by}", framealpha=0.85)
    if chosen and not strips:  # the paths' legend beside the plot (with strips, their titles say it)
        if group_legend is not None:
            ax.add_artist(group_legend)  # keep it when the next legend takes the axes' slot
        ax.legend(handles=[Line2D([], [], color=c.colour, lw=2.0, marker="o", label=c.caption) for c in chosen],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="paths (o start, ■ end)")
    elif chosen:
        fig.legend(handles=[Line2D([], [], color="black", marker="o", ls="", label="path start"),
                            Line2D([], [], color="black", marker="s", ls="", label="path end")],
                   loc="upper left", ncols=2, fontsize=9, frameon=False)
    colouring = "grey, paths coloured" if grey else f"coloured by {s.colour_by}"
    fig.suptitle(s.title or f"{len(searcher.ids)} videos, {n} frames, {colouring}"
                 + ("" if len(names) <= LEGEND_MAX else f" ({len(names)} groups, colours repeat)")
                 + f" — {bundle.version}", fontsize=12)
    if strips:
        for i, c in enumerate(chosen):
            sax = fig.add_subplot(grid[i, 1])
            sax.imshow(strip(bundle, c.frames, s.strip_frames))
            sax.set_xticks([])
            sax.set_yticks([])
            for spine in sax.spines.values():
                spine.set_edgecolor(c.colour)
                spine.set_linewidth(3)
            span = f"  ({c.times[0]:.0f}-{c.times[-1]:.0f} s)"
            sax.set_title(c.caption + span, loc="left", fontsize=9, color=c.colour, weight="bold", pad=2)
    return MapPlot(fig, chosen, names, groups)


def strip(bundle: Bundle, rows: np.ndarray, count: int, gap: int = 4) -> np.ndarray:
    """``count`` frames evenly spread over ``rows`` side by side, white gaps between them."""
    pick = rows[np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int))]
    thumbs = bundle.frames.take(pick)
    h, w = thumbs.shape[1:3]
    out = np.full((h, count * w + (count - 1) * gap, 3), 255, np.uint8)
    for j, t in enumerate(thumbs):
        out[:, j * (w + gap):j * (w + gap) + w] = t
    return out
