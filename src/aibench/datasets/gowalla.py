"""Gowalla check-ins (SNAP `loc-gowalla_totalCheckins.txt`) for sequential recommendation, and an embedded generator.

Real layout: `ROOT/gowalla/loc-gowalla_totalCheckins.txt`, one check-in a line,

    user<TAB>ISO-8601 time<TAB>latitude<TAB>longitude<TAB>location id
    0	2010-10-19T23:55:27Z	30.2359091167	-97.7951395833	22847

(SNAP lists each user's check-ins newest first; the reader does not rely on any order).

Preprocessing follows Caser (Tang & Wang, WSDM 2018, section 4) whose Gowalla files rank_distill ships
already processed (`datasets/gowalla/test/{train,test}.txt`, `user item 1` triplets, no script):

- check-ins are implicit feedback: a user's repeated check-ins at one location collapse into the first one,
  so every (user, location) pair occurs once (the reference's files are implicit `user item 1` triplets, and
  its evaluation ranks only items the user has not met in training, so a repeated place could never be a hit);
- cold-start users and items are removed: Caser drops those with fewer than n feedbacks, n = 15 for Gowalla
  (13.1k users, 14.0k items, 40.74 actions per user in its Table 1). We drop locations with fewer than
  `min_item_users` distinct users, then users with fewer than `min_user_items` distinct locations (one pass,
  item filter first; both thresholds are parameters);
- each user's remaining sequence, in time order, is split into the earlier part for training and the last
  `test_fraction` (Caser: 20%; its 70/10 train/validation part is training here) for testing;
- ids are remapped to dense 0..n-1 (users by raw id, items by raw location id).

Caser's training instances (`caser_instances`) are the reference's sliding windows over each user's training
sequence: L previous items predict the T next ones; a sequence shorter than L+T is left-padded (with the
index `num_items`, which no real item uses) to one window. The test query of a user is the last L training items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aibench.datasets.embedded import DataLayoutError, DatasetSpec

CHECKINS_FILE = "gowalla/loc-gowalla_totalCheckins.txt"
_CHUNK_LINES = 1 << 20  # bound memory on the real 6.4M-line file


@dataclass(frozen=True)
class Checkins:
    """Raw check-ins, one entry per line of the file, in file order."""

    users: np.ndarray  # int64 raw user ids
    times: np.ndarray  # int64 seconds since the epoch (UTC)
    latitudes: np.ndarray  # float64
    longitudes: np.ndarray
    locations: np.ndarray  # int64 raw location ids

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Sequences:
    """Per-user item sequences in time order, as CSR-style flat arrays (user u owns flat[offsets[u]:offsets[u+1]])."""

    num_users: int
    num_items: int
    train_offsets: np.ndarray
    train_items: np.ndarray
    test_offsets: np.ndarray
    test_items: np.ndarray
    user_ids: np.ndarray  # raw id of each dense user
    item_ids: np.ndarray  # raw location id of each dense item

    def train_of(self, user: int) -> np.ndarray:
        return self.train_items[self.train_offsets[user] : self.train_offsets[user + 1]]

    def test_of(self, user: int) -> np.ndarray:
        return self.test_items[self.test_offsets[user] : self.test_offsets[user + 1]]


@dataclass(frozen=True)
class CaserInstances:
    """Training windows (user, L previous items -> T targets) and each user's test query."""

    users: np.ndarray  # (N,)
    sequences: np.ndarray  # (N, L), padded with `pad`
    targets: np.ndarray  # (N, T)
    test_sequences: np.ndarray  # (num_users, L): the last L training items of each user
    pad: int  # padding index (= num_items)


# ---------------------------------------------------------------------------------------------- reading


def read_checkins(path: Path) -> Checkins:
    """Parse a SNAP Gowalla check-in file; any malformed line raises DataLayoutError naming file and line."""
    parts: list[tuple[np.ndarray, ...]] = []
    first_line = 1
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DataLayoutError(f"cannot read {path}: {exc}") from exc
    with fh:
        while True:
            lines = fh.readlines(_CHUNK_LINES * 64)
            if not lines:
                break
            parts.append(_parse_chunk(lines, first_line, path))
            first_line += len(lines)
    if not parts:
        raise DataLayoutError(f"{path} holds no check-ins")
    cols = [np.concatenate(c) for c in zip(*parts)]
    if len(cols[0]) == 0:
        raise DataLayoutError(f"{path} holds no check-ins")
    return Checkins(*cols)


def _parse_chunk(lines: list[bytes], first_line: int, path: Path) -> tuple[np.ndarray, ...]:
    stripped = [ln.rstrip(b"\r\n") for ln in lines]
    line_no = np.flatnonzero(np.fromiter((len(s) > 0 for s in stripped), bool, len(stripped))) + first_line
    body = [s for s in stripped if s]  # blank lines carry nothing
    tabs = np.fromiter((s.count(b"\t") for s in body), np.int64, len(body))
    bad = np.flatnonzero(tabs != 4)
    if len(bad):
        i = bad[0]
        raise DataLayoutError(
            f"{path}, line {line_no[i]}: expected 5 tab-separated fields "
            f"(user, time, latitude, longitude, location id), found {tabs[i] + 1}"
        )
    if not body:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0), np.empty(0), empty
    flat = b"\t".join(body).split(b"\t")
    users = _column(flat[0::5], np.int64, "user id", line_no, path)
    # Decoded to text first: numpy's bytes -> datetime64 conversion crashes the process (SIGSEGV) on an invalid
    # date in an array of a few hundred elements, where the text conversion raises ValueError.
    times = np.strings.decode(np.strings.rstrip(np.array(flat[1::5]), b"Z"), "ascii", "replace")
    stamps = _column(times, "datetime64[s]", "time", line_no, path)
    lats = _column(flat[2::5], np.float64, "latitude", line_no, path)
    lons = _column(flat[3::5], np.float64, "longitude", line_no, path)
    locs = _column(flat[4::5], np.int64, "location id", line_no, path)
    bad_t = np.flatnonzero(np.isnat(stamps))
    if len(bad_t):
        raise DataLayoutError(f"{path}, line {line_no[bad_t[0]]}: empty time")
    bad_f = np.flatnonzero(~(np.isfinite(lats) & np.isfinite(lons)))
    if len(bad_f):
        raise DataLayoutError(f"{path}, line {line_no[bad_f[0]]}: latitude/longitude is not a finite number")
    return users, stamps.astype(np.int64), lats, lons, locs


def _column(raw: Any, dtype: Any, what: str, line_no: np.ndarray, path: Path) -> np.ndarray:
    arr = raw if isinstance(raw, np.ndarray) else np.array(raw)
    try:
        return arr.astype(dtype)
    except (ValueError, OverflowError):
        pass
    # Slow path only on error: find the first value that does not parse, to name its line.
    for i, value in enumerate(arr):
        try:
            np.array([value]).astype(dtype)
        except (ValueError, OverflowError):
            shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            raise DataLayoutError(f"{path}, line {line_no[i]}: cannot parse {what} {shown!r}") from None
    raise DataLayoutError(f"{path}: cannot parse the {what} column")  # unreachable in practice


# ---------------------------------------------------------------------------------------------- preprocessing


def preprocess(
    checkins: Checkins, min_user_items: int = 15, min_item_users: int = 15, test_fraction: float = 0.2
) -> Sequences:
    """Dedupe (user, location) keeping the earliest, filter cold users/items, split each user's sequence in time."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.lexsort((np.arange(len(checkins)), checkins.times, checkins.users))
    users, locs = checkins.users[order], checkins.locations[order]

    uniq_users, u = np.unique(users, return_inverse=True)
    uniq_locs, i = np.unique(locs, return_inverse=True)
    _, first = np.unique(u * np.int64(len(uniq_locs)) + i, return_index=True)
    keep = np.zeros(len(u), bool)
    keep[first] = True  # `first` indexes the time-sorted order, so this keeps each pair's earliest check-in
    u, i = u[keep], i[keep]

    item_ok = np.bincount(i, minlength=len(uniq_locs)) >= min_item_users
    u, i = u[item_ok[i]], i[item_ok[i]]
    user_ok = np.bincount(u, minlength=len(uniq_users)) >= max(min_user_items, 2)
    u, i = u[user_ok[u]], i[user_ok[u]]
    if len(u) == 0:
        raise DataLayoutError(
            f"no user keeps {min_user_items} locations visited by at least {min_item_users} users each"
        )

    kept_users, u = np.unique(u, return_inverse=True)
    kept_items, i = np.unique(i, return_inverse=True)
    counts = np.bincount(u, minlength=len(kept_users))
    n_test = np.maximum(1, np.rint(counts * test_fraction).astype(np.int64))
    n_train = counts - n_test
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(len(u)) - np.repeat(starts, counts)  # position of each check-in in its user's sequence
    is_train = pos < np.repeat(n_train, counts)
    return Sequences(
        num_users=len(kept_users),
        num_items=len(kept_items),
        train_offsets=_offsets(n_train),
        train_items=i[is_train],
        test_offsets=_offsets(n_test),
        test_items=i[~is_train],
        user_ids=uniq_users[kept_users],
        item_ids=uniq_locs[kept_items],
    )


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def caser_instances(seqs: Sequences, L: int = 5, T: int = 3) -> CaserInstances:
    """Sliding windows of L+T items over each user's training sequence (step 1), as the reference builds them."""
    pad = seqs.num_items
    n = np.diff(seqs.train_offsets)
    width = L + T
    # Left-pad short sequences to one full window; users whose targets would include padding get no window.
    padded_len = np.maximum(n, width)
    n_windows = np.where(n > T, padded_len - width + 1, 0)
    blocks = _offsets(padded_len)
    flat = np.full(blocks[-1], pad, np.int64)
    dest = np.repeat(blocks[:-1] + (padded_len - n), n) + (
        np.arange(len(seqs.train_items)) - np.repeat(seqs.train_offsets[:-1], n)
    )
    flat[dest] = seqs.train_items
    win_users = np.repeat(np.arange(seqs.num_users), n_windows)
    within = np.arange(n_windows.sum()) - np.repeat(_offsets(n_windows)[:-1], n_windows)
    starts = blocks[:-1][win_users] + within
    windows = flat[starts[:, None] + np.arange(width)]

    test_seq = flat[blocks[1:][:, None] - L + np.arange(L)]  # the last L of each (padded) training sequence
    return CaserInstances(win_users, windows[:, :L], windows[:, L:], test_seq, pad)


def load_gowalla(
    root: Path, min_user_items: int = 15, min_item_users: int = 15, test_fraction: float = 0.2
) -> Sequences:
    """Read `root/gowalla/loc-gowalla_totalCheckins.txt` and preprocess it."""
    path = Path(root) / CHECKINS_FILE
    if not path.is_file():
        raise DataLayoutError(f"missing {path} (expected {GOWALLA_DATASET.layout_hint})")
    return preprocess(read_checkins(path), min_user_items, min_item_users, test_fraction)


# ---------------------------------------------------------------------------------------------- generator

# Real places where Gowalla was busy (Austin was its home; Sweden its largest market outside the US).
_CITIES = (
    (30.2672, -97.7431),
    (32.7767, -96.7970),
    (29.7604, -95.3698),
    (37.7749, -122.4194),
    (40.7128, -74.0060),
    (59.3293, 18.0686),
    (57.7089, 11.9746),
    (55.6050, 13.0038),
    (34.0522, -118.2437),
    (47.6062, -122.3321),
    (41.8781, -87.6298),
    (39.7392, -104.9903),
    (45.5152, -122.6784),
    (42.3601, -71.0589),
    (51.5074, -0.1278),
    (59.9139, 10.7522),
    (55.6761, 12.5683),
    (60.1699, 24.9384),
    (29.4241, -98.4936),
    (33.7490, -84.3880),
)
_EPOCH_START = np.datetime64("2009-02-01T00:00:00", "s").astype(np.int64)
_EPOCH_SPAN = np.int64(500 * 86400)


@dataclass(frozen=True)
class GowallaParams:
    """Size and walk of an embedded Gowalla-format check-in file (see `generate_gowalla`)."""

    users: int = 2000
    locations: int = 500
    clusters: int = 1  # cities; each user lives in one, chosen in proportion to its number of places
    min_checkins: int = 30  # per user (revisits included, so fewer distinct places)
    max_checkins: int = 80
    routes: int = 40  # routes per city: different orderings of some of its places
    route_length: int = 60  # places on a route (at most the city's); a route is a loop
    start_spread: float = 0.25  # a user joins their route at a uniform position in its first start_spread
    p_route: float = 0.6  # step probabilities; the rest of the mass is a uniform jump within the home city
    p_popular: float = 0.1
    p_repeat: float = 0.15
    p_travel: float = 0.03
    p_skip: float = 0.05  # a route step passes over each next place of the route with this probability

    def __post_init__(self) -> None:
        if min(self.users, self.locations, self.clusters, self.routes, self.route_length) < 1 or not (
            1 <= self.min_checkins <= self.max_checkins
        ):
            raise ValueError(
                "embedded Gowalla needs users, locations, clusters, routes, route_length >= 1 and "
                "1 <= min_checkins <= max_checkins"
            )
        steps = (self.p_route, self.p_popular, self.p_repeat, self.p_travel)
        if min(steps) < 0 or sum(steps) > 1 + 1e-9 or not 0 <= self.p_skip < 1 or not 0 <= self.start_spread <= 1:
            raise ValueError(
                "embedded Gowalla's step probabilities must be >= 0 and sum to at most 1, "
                "p_skip must be in [0, 1) and start_spread in [0, 1]"
            )


def generate_gowalla(root: Path, params: GowallaParams, seed: int) -> None:
    """Write a synthetic check-in file in SNAP's format in which the next new place depends on more than the last.

    Places lie around real cities (`clusters` of them). Each city has `routes` routes: a route is a random
    ordering of `route_length` of the city's places (a loop), so a place lies on several routes (routes x
    route_length / city size on average) and is followed by a different place on each. A user lives in one city,
    follows one of its routes, joins it near its start (a uniform position in its first `start_spread`) and
    walks it forward: each check-in is, with probability `p_route`, the next place of the route (each next
    place passed over with probability `p_skip`), else a popular place of the home city (Pareto weights), a
    revisit of a place already visited, a place of a random city (`p_travel`), or any place of the home city.
    Time stamps increase along each user's walk, so the reader's time split holds out each user's later places.

    Why: the places a user visits next are the following places of their route. The last place alone does
    not say which route that is (several routes pass through it, and over a quarter of a user's new places
    are off-route), so a first-order Markov chain of transitions stays weak; the last 2-3 places do (two
    consecutive places of a route are rarely consecutive on another), and so does the user's history (the
    places visited so far are a stretch near the start of one route, which Caser's user embedding learns from
    the other users on that route). The reader keeps each (user, place) pair's first visit only and the
    evaluation ranks only places a user has not visited in training, so all of this structure lies in the
    order of first visits to new places. (Version 1 walked a single route per city, on which a first-order
    Markov chain of transitions outscored Caser.)
    """
    rng = np.random.default_rng(seed)
    n_users, n_locs, n_clusters = params.users, params.locations, params.clusters
    lo, hi = params.min_checkins, params.max_checkins
    p = np.array([params.p_route, params.p_popular, params.p_repeat, params.p_travel], float)
    p = np.append(p, max(0.0, 1.0 - p.sum()))
    p /= p.sum()

    cluster_of = np.sort(rng.integers(0, n_clusters, n_locs))
    members = [np.flatnonzero(cluster_of == c) for c in range(n_clusters)]
    members = [m for m in members if len(m)]
    centres = np.array([_CITIES[c % len(_CITIES)] for c in range(len(members))])
    centres += rng.normal(0, 0.05, centres.shape)
    lat, lon = np.empty(n_locs), np.empty(n_locs)
    popularity, routes = [], []
    for c, m in enumerate(members):
        spread = rng.normal(0, 0.02, (len(m), 2))  # places within a few km of the centre
        lat[m], lon[m] = centres[c, 0] + spread[:, 0], centres[c, 1] + spread[:, 1]
        w = rng.pareto(1.5, len(m)) + 0.1
        popularity.append(w / w.sum())
        length = min(params.route_length, len(m))
        routes.append(np.stack([rng.choice(m, length, replace=False) for _ in range(params.routes)]))
    loc_ids = rng.choice(np.arange(8_000, 8_000 + 40 * n_locs), n_locs, replace=False)
    cluster_weight = np.array([len(m) for m in members], float)
    cluster_weight /= cluster_weight.sum()

    user_ids = np.sort(rng.choice(np.arange(0, 3 * n_users), n_users, replace=False))
    out_lines: list[str] = []
    for uid in user_ids:
        home = int(rng.choice(len(members), p=cluster_weight))
        route = routes[home][int(rng.integers(params.routes))]
        n = int(rng.integers(lo, hi + 1))
        kinds = rng.choice(5, n, p=p)
        pos = int(rng.integers(max(1, int(params.start_spread * len(route))))) - 1  # the first step lands on it
        visited: list[int] = []
        for k in kinds:
            if k == 0 or not visited:  # on along the user's route
                pos += int(rng.geometric(1.0 - params.p_skip))
                visited.append(int(route[pos % len(route)]))
            elif k == 1:  # a popular place at home
                m = members[home]
                visited.append(int(m[rng.choice(len(m), p=popularity[home])]))
            elif k == 2:  # back to a place already visited
                visited.append(visited[int(rng.integers(len(visited)))])
            elif k == 3:  # travel
                m = members[int(rng.integers(len(members)))]
                visited.append(int(m[rng.integers(len(m))]))
            else:  # anywhere at home
                m = members[home]
                visited.append(int(m[rng.integers(len(m))]))
        gaps = (rng.exponential(18 * 3600, n) + 300).astype(np.int64)
        times = _EPOCH_START + rng.integers(0, _EPOCH_SPAN) + np.cumsum(gaps)
        stamps = np.datetime_as_string(times.astype("datetime64[s]"), unit="s")
        for t in range(n - 1, -1, -1):  # SNAP lists each user's check-ins newest first
            loc = visited[t]
            out_lines.append(
                f"{uid}\t{stamps[t]}Z\t{lat[loc] + rng.normal(0, 2e-5):.10f}\t"
                f"{lon[loc] + rng.normal(0, 2e-5):.10f}\t{loc_ids[loc]}\n"
            )
    path = Path(root) / CHECKINS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(out_lines))


GOWALLA_DATASET = DatasetSpec(
    name="gowalla",
    required=(CHECKINS_FILE,),
    generate=generate_gowalla,
    params=GowallaParams,
    version=2,  # 2: routes (several orderings of a city's places per city) instead of one walk per city
    layout_hint="gowalla/loc-gowalla_totalCheckins.txt from SNAP: user<TAB>ISO-8601 time<TAB>latitude"
    "<TAB>longitude<TAB>location id, one check-in a line",
)
