"""The search's tuning numbers, as one typed object (reported by GetInfo)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from indexer.errors import VidatlasError


@dataclass(frozen=True)
class SearchSettings:
    probe_frames: int = 64
    """Query frames, spread over the query (all of a query up to this many), that look up
    candidate videos in the frame index; more for a query of more bundle periods (one a period,
    up to ``max_probe_frames``): a short copy inside a long clip is met by a probe wherever it lies."""
    max_probe_frames: int = 1024
    neighbours_per_probe: int = 64
    """Nearest frames fetched per probe frame; each video votes with its best one."""
    videos_per_probe: int = 2
    """Each probe frame's best videos are candidates whatever the votes (the source of a short copy)."""
    candidates_per_k: int = 3
    min_candidates: int = 30
    """Videos re-ranked by alignment: max(candidates_per_k * k, min_candidates)."""
    align_frames: int = 32
    """Query frames, spread over the query, aligned against every candidate (whole-video similarity)."""
    segment_frames: int = 256
    """Query frames searched for copied segments; a longer query is searched at every
    ceil(n / segment_frames)-th frame."""
    pixel_weight: float = 0.7
    """Share of pixel agreement (grey thumbnail cross-correlation) beside feature cosine in the
    frame similarity copied segments are found on."""
    crop_scales: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7)
    """Pixel agreement compares a query picture with the whole of each video frame and with its
    central parts at these scales (crops of up to 30 %); the first must be 1."""
    crop_search_frames: int = 8
    """A clip's picture is also compared with the video frames nearest it by features (this many
    per query frame, among all candidates) at every window of ``crop_search_scales`` x
    ``crop_search_shifts``: an off-centre crop that changed the aspect and was scaled back to full
    size. 0: centred crops only."""
    crop_register: int = 12
    """Candidates whose crop window is refined (one geometry per copied piece): of twice as many
    nearest most often, those whose nearest pairs agree best at a coarse window (and see
    ``crop_register_voted``). Each costs clip queries about 15 ms."""
    crop_register_voted: float = 0.25
    """Share of the refined candidates taken as the nearest most often, whatever their coarse
    agreement: other shots of the places in a copy's other footage are crops of the same pictures
    and agree well at some coarse window, so the copy's source could be left out. Measured
    2026-12-07: a cropped real-clip piece 12.5 votes (next 5.4) but 17th by coarse agreement, found
    at 0.25 (0.73 copy score; 0.23 and rank 5 at 0); on 688 embedded harness queries no rank 1 and
    not the calibration changed; cropped real-clip pieces (bench/real_pieces.py) 0.78 -> 1.00 of 9.
    Whole indexed videos (``crop_register_indexed`` 2) take none this way."""
    crop_diagonal_starts: int = 3
    """A candidate whose nearest frames do not line up along a diagonal as well as other frames of
    its own: this many of those (the pairs most alike along a diagonal, one a diagonal) are tried
    at the coarse windows too, and the best of them is refined as well when its coarse agreement
    is within ``crop_start_margin`` of the nearest's; the better registered is kept. A cropped
    copy's frames can be farther by features than another shot of the picture it shows, which a
    long video offers more often: cropped 3 s pieces against 60 s videos (48 videos, 56 queries)
    found first 26 -> 34, their copy score reaching the threshold 0.21 -> 0.39; searching cost
    +15 % (short videos) to +33 % (60 s). 0 turns it off."""
    crop_start_margin: float = 0.1
    """How far below the nearest pairs' coarse agreement a diagonal's start may be and still be refined."""
    crop_register_indexed: int = 2
    """The same for a query by a whole indexed video (what the similar-videos table, and so the
    duplicate groups, are built from; time ranges are not crop-searched): a cropped, rotated or
    1-fps-offset copy among the indexed videos. Measured once (bench/duplicates.py, 16 sources,
    2026-12-04): 0 / 2 / 12 gave table builds of 2.9 / 7.8 / 39 s and pair recall 0.55 / 0.72 /
    0.75 (pieces grouped 4 / 8 / 9 of 16, cropped 0 / 1 / 2 of 2, rotated and combined 0 / 1 / 1),
    with no false link added at 2. 0 turns it off."""
    crop_search_scales: tuple[float, ...] = (0.95, 0.85, 0.75, 0.65)
    """Widths and heights (fractions of the picture, independently) of the windows searched for crops."""
    crop_search_shifts: tuple[float, ...] = (-0.06, 0.0, 0.06)
    """Offsets of those windows' centres from the picture's centre, across and down."""
    crop_scan_scales: tuple[float, ...] = ()
    """Widths and heights (fractions of the picture, independently) at which a refined
    candidate's starting pair is also scanned at every whole-cell position for its crop window
    (:func:`query.copies.scan_windows`); the window is refined from the coarse grid's best and
    from the scan's, and the better fit kept. Empty: from the coarse grid's only. Pieces of
    footage shot as zooms, hand-held and whip pans (bench/shot_styles.py) showed why: at the true
    pairs the crop's own window agrees 0.92-0.99, but the pattern search from the coarse grid's
    best ended 0.0-0.6 in 2 of 3 cropped pieces (one collection, one-off). Off by default: with
    ``(0.6, 0.67, 0.73, 0.8, 0.87, 0.93, 1.0)`` (2026-12-07) cropped pieces there went 37 -> 41 of
    56 at rank 1 and called 0.52 -> 0.64, but bench/quality.py's transformed pieces went 0.97 ->
    0.95 at rank 1 (cropped 0.92 -> 0.83), its non-copies' highest copy score 0.544 -> 0.613 (1 of
    80 at 0.57), and clip searches took 1.7x as long: other footage of an indexed picture is
    registered as a crop of it better too."""
    crop_search_angles: tuple[float, ...] = (-9.0, -6.0, -3.0, 3.0, 6.0, 9.0)
    """Angles (degrees) the centred windows are also turned by: a rotated copy (zoomed so that no
    corner is empty) shows a turned window of its source. Empty: upright windows only. Measured
    on the quality bench (2026-12-06, same run otherwise): ±4/±8 found 14 of 16 rotated 3 s pieces
    (3-10°), ±3/±6/±9 15 (called a copy 12 -> 13), every other row and the calibration unchanged,
    search median 361 -> 383 ms; ±4/±8/±12 found 13."""
    pixel_min_similarity: float = 0.25
    """Video frames whose feature cosine with every query frame stays below this are not compared
    by their pictures (a copy that kept its detail keeps at least this much of its features:
    the blocky carphone copy keeps 0.37)."""
    smooth_gain: float = 3.0
    smooth_floor: float = 0.5
    """Pixel agreement of a query frame whose detail agrees with itself moved by one cell (its
    :meth:`indexer.pictures.Pictures.self_agreement`) more than ``smooth_floor`` counts its shortfall
    from 1 ``1 + smooth_gain × (self agreement - smooth_floor)`` times: in a smooth picture (a colour
    wheel: 0.85-0.9; photographs 0.05-0.4) a framing a cell off still agrees, so only a near-perfect
    agreement is a copy's. Chosen on 688 embedded queries (2026-12-06): at 1 % false copies among 320
    without a copy, 3.0 / 0.5 kept 0.956 of 248 copied pieces (0.956 without the rule) and raised the
    hard ways' 0.650 -> 0.694 of 160 (6.0 / 0.5: 0.940, 0.681; 2.0 / 0.3: 0.948, 0.688; 4.0 / 0.4:
    0.944, 0.681). 0 turns it off."""
    pixel_cache_mb: int = 256
    """Pixel signatures of the most recently searched videos kept in memory (3.4 KB a frame at
    four scales); 0 keeps only the last video's."""
    match_threshold: float = 0.6
    """Cosine similarity at which a frame pair starts to count as copied (segments gain
    ``sim - match_threshold`` per pair)."""
    repeat_penalty: float = 0.1
    """Cost of matching the next query frame to the same video frame again (slow-downs)."""
    gain_half: float = 0.5
    """A segment whose pairs gain this much in all (sum of ``sim - match_threshold``) has strength 0.5;
    segments and, in segments mode, results are ranked by strength."""
    length_half_s: float = 1.5
    """A segment whose shorter side is this long earns half of its exactness as copy score; each as long again halves the rest."""
    max_segments: int = 4
    """Copied segments kept per result."""
    min_segment_score: float = 0.05
    """Segments scoring less are not reported."""
    phase_min_score: float = 0.3
    """A clip's segments scoring at least this are checked on one line of time through them
    (:mod:`query.phase`), their copy score lowered by what their pictures' agreement loses there;
    1 turns the check off. Measured (2026-12-07, bench/quality.py's copy cases and 120 held-out
    queries without a copy, 24 sources): at 192x108 25 fps the non-copies reaching
    ``copy_threshold`` 4 -> 2 of 168 (2 of 168 at 8 fps, unchanged), at 640x360 25 fps 9 -> 7;
    copied pieces called a copy and rank 1 unchanged everywhere; search cost +3-5 %."""
    copy_threshold: float = 0.57
    """Calibrated copy score at or above which a result of a clip is a copy (a query by video_id
    has its own, ``indexed_copy_threshold``). Chosen on 2026-12-07, when a segment's copy score
    came to count the shorter of its two sides (``query.copies``), on 320 queries without a copy
    (footage of indexed places shot differently, 11 and 33 s; bench/quality.py's draws with seeds
    1-4): 2 of them (0.6 %) reach it, while 0.960 of 248 copied 3 s pieces (re-encoded,
    transformed, two a query, inside 2 minutes) and 0.73 of 160 pieces copied the hard ways do;
    on 216 queries without a copy against 24 videos of 60 s (bench/situations.py's long
    collection), 3 (1.4 %). The same queries under the previous score: 0.585 let 3 of the 320
    through with 0.956 and 0.69 found, and 10 of the 216 (4.6 %). ``bench/quality.py`` checks it
    on draws held out from these (seed 6)."""
    indexed_copy_threshold: float = 0.57
    """The copy threshold for queries that are indexed videos (by id: FindSimilar of a video or
    time range, the similar-videos table, duplicate groups), where both sides are the bundle's own
    1 fps samples at unrelated phases (a copy shows the source's pan up to half a second off).
    The clips' value, after measuring (2026-12-07) both ways it can go wrong. On the
    similar-videos tables of three collections of bench/duplicates.py (18 s videos and shorter;
    seeds 7, 8, 9) no entry between videos that copy nothing of each other reaches 0.37 (7,775
    entries); duplicate-pair recall is 0.69 / 0.57 / 0.54 at 0.57 and 0.74 / 0.64 / 0.61 at 0.5,
    with no false pair. But on 24 videos of 60 s that copy nothing of each other (pans at one zoom
    over recurring photographs; bench/situations.py's long collection) the table's false entries
    still reach 0.76, and duplicate groups link 5 false pairs at 0.585, 8 at 0.57, 12 at 0.55 and 24 at
    0.5 (18 / 34 / 100 at 0.585 / 0.55 / 0.5 before the copy score counted the shorter side): a
    longer video offers more chance alignments."""
    called_first: bool = False
    """In segments mode, results called a copy (copy score at the threshold) rank before the
    rest, then by score. Off by default: bench/quality.py --cases copies with it on and off
    (2026-12-08, same code otherwise) found whole copies made other ways 0.95 against 0.98 at rank
    1 (contrast, slower and combined copies: a called other video above a true copy scored just
    under the threshold) and everything else the same; bench/long_crops.py one cropped piece more
    with it (35 of 56), bench/shot_styles.py none (37 of 56)."""
    anomaly_neighbours: int = 3
    """A video's path isolation is its mean fingerprint distance to this many nearest videos."""
    path_isolation_weight: float = 0.5
    """Weight of path isolation beside reconstruction error in a video's anomaly score."""
    clusters: int = 8
    """k-means clusters of the map: the unsupervised labels when no frame is labelled."""
    kmeans_iterations: int = 25
    places_per_video: int = 8
    """FindDissimilar (content): centroids per video at most (its "places", see query.content)."""
    same_place: float = 0.85
    """A frame within this cosine of a video's place adds no new centroid."""
    dissimilar_pool: int = 4
    """FindDissimilar (content) chooses k videos from a spread-out pool of this many times k."""
    view_rounds: int = 4
    """FindDissimilar (content, no query): times the chosen videos' pairs are checked for a shared
    view (query.views: overlapping parts of one scene, which features can miss) and, where one is
    found, the pair is made as close as can be and the k chosen again. With a query video (or a
    range of one), the k farthest are checked against it, the closest first, and one that shares a
    view is replaced by the next farthest. 0 checks nothing."""
    view_checks: int = 200
    """At most this many video pairs checked for a shared view per answer, the closest first (a
    pair of short videos takes about 10-20 ms; a nine has 36 pairs)."""
    view_frames: int = 16
    """Frames per video (evenly spaced) compared for shared views (cost grows with its square)."""
    view_threshold: float = 0.85
    """Detail correlation at the phase-correlation shift from which two frames show a shared view.
    Measured once (2026-12-03, every video pair of 14 testkit.places collections): of 7,144 pairs
    with no photograph in common the highest scored 0.79 (same class, other photograph: 0.71);
    1,569 of the 1,648 pairs sharing a photograph through windows that overlap by >= 0.3 reach 0.85."""
    view_bridges: int = 5
    """A pair that shares no view directly still shares a place when one continuous run of a third
    video's frames shares a view with each (two pans over different parts of one photograph, both
    overlapping a longer one): this many third videos are tried per pair, those with the highest
    sum of content closeness to the two first (a reshoot of one side is a likely bridge even when
    far from the other); 0 tries none. Measured once (2026-12-04, every video pair of 14
    testkit.places collections): sharing pairs missed 101 (none tried) / 65 (3, by sum) / 68 (3,
    by the smaller closeness) of 1,676, no false one; on 8 collections panned with windows of 0.45
    instead of 0.7 of the photograph: 153 / 85 of 972 missed, false 1 / 4 of 4,068. 3 -> 5
    (2026-12-07, the 14 collections with 18 transformed copies each, frames also linked by
    ``view_same_feature``): sharing pairs missed 377 -> 343 of 4,039, false 1 -> 1 of 15,995 (a
    direct view at 0.851), the query-free nine sharing nothing in 12 -> 13 of 14."""
    view_same_feature: float = 0.9
    """Two frames whose feature cosine reaches this count as sharing a view whatever their pictures
    (a crop scaled back up or a rotated copy, which no translation lines up); above 1 turns it off.
    Measured once (2026-12-07, 14 testkit.places collections with 18 transformed copies each, 16
    frames a video): of 15,995 video pairs with no photograph in common, the best frame pair's
    cosine reached 0.852 once and 0.666 at the 99.9th percentile; a copy and its source reach a
    median 0.90-0.99 for every kind but pip (0.48) and crop + colour + logo at once (0.81)."""
    view_floor: float = 0.15
    """With a query, only videos at least this close to it in content (query.content) are
    view-checked: each check costs milliseconds, and the farthest videos are mostly far below it.
    Measured once (2026-12-04, every video pair of 14 testkit.places collections): the least close
    pair sharing a photograph is at 0.157; half the pairs sharing none are below 0.123. A video with
    an inset (picture in picture), as the query or as a candidate, is checked however far it is:
    on 4 of those collections with 18 transformed copies each (2026-12-07, the hardest k from every
    video), answers holding a sharing video 33 -> 25 of 216, k = 9 p99 55 -> 670 ms (the queries of
    videos with an inset check every video they choose); with the query's own video no longer tried
    as a bridge, 24 of 216 and p99 347 ms."""
    view_min_area: float = 0.2
    """Two frames are correlated only where their overlap at that shift covers this share of a picture."""
    cut_similarity: float = 0.4
    """Shots: a cut lies between consecutive frames whose feature cosine is below this."""
    graph_neighbours: int = 10
    """LabelVideo: kNN edges per frame in the frame graph labels spread over."""
    cut_link: float = 0.2
    """Weight of the temporal edge across a cut (inside a shot it is 1, a kNN edge at most 1)."""
    spread_alpha: float = 0.99
    """Label spreading (Zhou et al. 2004): how far labels travel."""
    spread_iterations: int = 60

    @property
    def digest(self) -> str:
        """A short digest of every setting: names what was computed under them (a similar-videos
        table's file, the result cache's namespace)."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:8]

    def candidates(self, k: int) -> int:
        return max(self.candidates_per_k * k, self.min_candidates)

    def validate(self) -> None:
        for name in ("probe_frames", "max_probe_frames", "neighbours_per_probe", "candidates_per_k", "min_candidates", "align_frames",
                     "segment_frames", "max_segments", "videos_per_probe",
                     "anomaly_neighbours", "clusters", "kmeans_iterations", "places_per_video",
                     "dissimilar_pool", "graph_neighbours", "spread_iterations", "view_frames", "view_checks"):
            if getattr(self, name) < 1:
                raise VidatlasError(f"search setting {name} must be at least 1, got {getattr(self, name)}")
        for name in ("same_place", "cut_similarity", "cut_link", "spread_alpha", "pixel_min_similarity", "crop_register_voted",
                     "copy_threshold", "indexed_copy_threshold", "phase_min_score"):
            if not 0 <= getattr(self, name) <= 1:
                raise VidatlasError(f"search setting {name} must be in [0, 1], got {getattr(self, name)}")
        if self.view_rounds < 0 or self.view_bridges < 0 or not 0 < self.view_min_area <= 1 \
                or not -1 <= self.view_threshold <= 1 or not -1 <= self.view_floor <= 1:
            raise VidatlasError("search settings need view_rounds and view_bridges >= 0, view_min_area in (0, 1], view_threshold and view_floor in [-1, 1]")
        if self.view_same_feature <= 0:
            raise VidatlasError(f"search setting view_same_feature must be above 0 (above 1 turns it off), got {self.view_same_feature}")
        if self.pixel_cache_mb < 0:
            raise VidatlasError(f"search setting pixel_cache_mb must be at least 0, got {self.pixel_cache_mb}")
        if self.crop_diagonal_starts < 0 or self.crop_start_margin < 0:
            raise VidatlasError("search settings need crop_diagonal_starts and crop_start_margin >= 0")
        if self.crop_search_frames < 0 or self.crop_register_indexed < 0 or not all(0 < v <= 1 for v in self.crop_search_scales) \
                or not all(0.3 <= v <= 1 for v in self.crop_scan_scales) \
                or not all(abs(v) < 0.5 for v in self.crop_search_shifts) \
                or not all(abs(v) <= 45 for v in self.crop_search_angles):
            raise VidatlasError("search settings need crop_search_frames and crop_register_indexed >= 0, crop_search_scales in (0, 1], crop_scan_scales in [0.3, 1], "
                                "crop_search_shifts within (-0.5, 0.5) and crop_search_angles within +-45 degrees")
        if not self.crop_scales or self.crop_scales[0] != 1 or not all(0 < s <= 1 for s in self.crop_scales):
            raise VidatlasError(f"search setting crop_scales must start with 1 and lie in (0, 1], got {self.crop_scales}")
        if self.smooth_gain < 0 or not 0 <= self.smooth_floor < 1:
            raise VidatlasError("search settings need smooth_gain >= 0 and 0 <= smooth_floor < 1")
        if not 0 <= self.pixel_weight <= 1 or not 0 <= self.match_threshold < 1 or self.gain_half <= 0 or self.length_half_s <= 0 or self.repeat_penalty < 0:
            raise VidatlasError("search settings need 0 <= pixel_weight <= 1, 0 <= match_threshold < 1, length_half_s > 0, repeat_penalty >= 0")
