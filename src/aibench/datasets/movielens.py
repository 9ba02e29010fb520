"""MovieLens ratings (100K `u.data`, 20M `ratings.csv`) as implicit feedback, and an embedded generator.

Real layouts under the data root, chosen by what is there (100K first):

    ml-100k/u.data      user<TAB>item<TAB>rating<TAB>timestamp, one rating a line, no header (He et al.'s data)
    ml-20m/ratings.csv  userId,movieId,rating,timestamp with that header line (MLPerf's data)

Preprocessing follows MLPerf's NCF reference (mlcommons/training recommendation/pytorch, convert.py):

- every rating is a positive interaction (implicit feedback; the rating value is not used);
- users with fewer than 20 ratings are dropped (MovieLens' own rule, which both releases already satisfy);
- user and item ids are remapped to dense 0..n-1 (by raw id);
- each user's latest interaction (largest timestamp; ties broken by file order, the later line being later) is
  held out for testing, the rest are the training positives;
- each user's held-out item is ranked against `eval_negatives` items the user never interacted with (neither in
  training nor held out), sampled once, uniformly without replacement. MLPerf samples them once in its
  preprocessing; here they are drawn with a fixed seed from the data alone, so every session, whatever its seed,
  and `aibench infer` rank the same candidates. A (user, item) pair listed twice keeps its first line only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aibench.datasets.embedded import DataLayoutError, DatasetSpec

ML100K_FILE = "ml-100k/u.data"
ML20M_FILE = "ml-20m/ratings.csv"
ML20M_HEADER = b"userId,movieId,rating,timestamp"
MIN_RATINGS = 20  # MovieLens keeps users with at least 20 ratings; MLPerf's convert.py filters at 20 too
_CHUNK_BYTES = 64 << 20  # bound memory on the 20M-line file
_EVAL_NEGATIVE_SEED = 20_170_403  # fixed: the evaluation candidates belong to the data, not to a session


@dataclass(frozen=True)
class Ratings:
    """Raw ratings, one entry per line of the file, in file order."""

    users: np.ndarray  # int64 raw user ids
    items: np.ndarray  # int64 raw item (movie) ids
    ratings: np.ndarray  # float64 (100K: 1..5; 20M: 0.5..5 in half stars)
    timestamps: np.ndarray  # int64 seconds since the epoch

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Interactions:
    """Implicit feedback split MLPerf's way: per user, training positives and one held-out item with negatives."""

    num_users: int
    num_items: int
    train_users: np.ndarray  # (P,) dense user of each training positive, grouped by user
    train_items: np.ndarray  # (P,)
    test_items: np.ndarray  # (num_users,) each user's held-out (latest) item
    test_negatives: np.ndarray  # (num_users, eval_negatives) items the user never interacted with
    user_ids: np.ndarray  # raw id of each dense user
    item_ids: np.ndarray  # raw id of each dense item
    source: str  # the file read

    def candidates(self) -> np.ndarray:
        """(num_users, eval_negatives + 1): the negatives, then the held-out item in the last column."""
        return np.concatenate([self.test_negatives, self.test_items[:, None]], axis=1)


# ---------------------------------------------------------------------------------------------- reading


def read_u_data(path: Path) -> Ratings:
    """Parse MovieLens 100K's `u.data` (4 tab-separated integers a line); a bad line names file and line."""
    return _read(path, b"\t", header=None, float_ratings=False)


def read_ratings_csv(path: Path) -> Ratings:
    """Parse MovieLens 20M's `ratings.csv` (header, then userId,movieId,rating,timestamp lines)."""
    return _read(path, b",", header=ML20M_HEADER, float_ratings=True)


def _read(path: Path, sep: bytes, header: bytes | None, float_ratings: bool) -> Ratings:
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DataLayoutError(f"cannot read {path}: {exc}") from exc
    parts: list[tuple[np.ndarray, ...]] = []
    first_line = 1
    with fh:
        if header is not None:
            top = fh.readline().rstrip(b"\r\n")
            if top.lstrip(b"\xef\xbb\xbf") != header:
                shown = top[:80].decode("utf-8", "replace")
                raise DataLayoutError(f"{path}, line 1: expected the header {header.decode()!r}, found {shown!r}")
            first_line = 2
        while True:
            lines = fh.readlines(_CHUNK_BYTES)
            if not lines:
                break
            parts.append(_parse_chunk(lines, first_line, path, sep, float_ratings))
            first_line += len(lines)
    cols = [np.concatenate(c) for c in zip(*parts)] if parts else []
    if not cols or len(cols[0]) == 0:
        raise DataLayoutError(f"{path} holds no ratings")
    return Ratings(*cols)


def _parse_chunk(
    lines: list[bytes], first_line: int, path: Path, sep: bytes, float_ratings: bool
) -> tuple[np.ndarray, ...]:
    stripped = [ln.rstrip(b"\r\n") for ln in lines]
    line_no = np.flatnonzero(np.fromiter((len(s) > 0 for s in stripped), bool, len(stripped))) + first_line
    body = [s for s in stripped if s]  # blank lines (a trailing one) carry nothing
    if not body:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0), empty
    seps = np.fromiter((s.count(sep) for s in body), np.int64, len(body))
    bad = np.flatnonzero(seps != 3)
    if len(bad):
        i = bad[0]
        name = "tab" if sep == b"\t" else "comma"
        raise DataLayoutError(
            f"{path}, line {line_no[i]}: expected 4 {name}-separated fields (user, item, rating, timestamp), "
            f"found {seps[i] + 1}"
        )
    flat = sep.join(body).split(sep)
    users = _column(flat[0::4], np.int64, "user id", line_no, path)
    items = _column(flat[1::4], np.int64, "item id", line_no, path)
    ratings = _column(flat[2::4], np.float64 if float_ratings else np.int64, "rating", line_no, path)
    stamps = _column(flat[3::4], np.int64, "timestamp", line_no, path)
    lo = 0.5 if float_ratings else 1
    bad_r = np.flatnonzero(~((ratings >= lo) & (ratings <= 5)))
    if len(bad_r):
        raise DataLayoutError(f"{path}, line {line_no[bad_r[0]]}: rating {ratings[bad_r[0]]} is outside {lo}..5")
    bad_id = np.flatnonzero((users < 0) | (items < 0))
    if len(bad_id):
        raise DataLayoutError(f"{path}, line {line_no[bad_id[0]]}: negative user or item id")
    return users, items, ratings.astype(np.float64), stamps


def _column(raw: list[bytes], dtype: Any, what: str, line_no: np.ndarray, path: Path) -> np.ndarray:
    arr = np.array(raw)
    try:
        if np.dtype(dtype).kind == "i" and arr.dtype.kind == "S":
            # numpy parses b"1.5" to int by truncating it on some versions: integers must be digits only.
            ok = np.strings.isdigit(np.strings.lstrip(arr, b"-"))
            if not ok.all():
                raise ValueError
        out = arr.astype(dtype)
        if np.dtype(dtype).kind == "f" and not np.isfinite(out).all():
            raise ValueError
        return out
    except (ValueError, OverflowError):
        pass
    # Slow path only on error: find the first value that does not parse, to name its line.
    for i, value in enumerate(raw):
        try:
            if np.dtype(dtype).kind == "i" and not value.lstrip(b"-").isdigit():
                raise ValueError
            v = np.array([value]).astype(dtype)
            if np.dtype(dtype).kind == "f" and not np.isfinite(v).all():
                raise ValueError
        except (ValueError, OverflowError):
            shown = value.decode("utf-8", "replace")
            raise DataLayoutError(f"{path}, line {line_no[i]}: cannot parse {what} {shown!r}") from None
    raise DataLayoutError(f"{path}: cannot parse the {what} column")  # unreachable in practice


# ---------------------------------------------------------------------------------------------- preprocessing


def preprocess(
    ratings: Ratings, source: str = "", eval_negatives: int = 100, min_ratings: int = MIN_RATINGS
) -> Interactions:
    """MLPerf's split: dedupe, drop users with < min_ratings, hold out each user's latest item, draw negatives."""
    if eval_negatives < 1:
        raise ValueError(f"eval_negatives must be >= 1, got {eval_negatives}")
    n = len(ratings)
    order = np.lexsort((np.arange(n), ratings.timestamps, ratings.users))  # by user, then time, then line
    users, items = ratings.users[order], ratings.items[order]
    _, first = np.unique(np.stack([users, items]), axis=1, return_index=True)  # first in time of each pair
    keep = np.zeros(n, bool)
    keep[first] = True
    users, items = users[keep], items[keep]

    uniq_users, u, counts = np.unique(users, return_inverse=True, return_counts=True)
    ok = counts[u] >= max(min_ratings, 2)
    users, items = users[ok], items[ok]
    if len(users) == 0:
        raise DataLayoutError(f"{source or 'the ratings'}: no user has {min_ratings} distinct rated items")
    user_ids, u = np.unique(users, return_inverse=True)
    item_ids, i = np.unique(items, return_inverse=True)
    num_users, num_items = len(user_ids), len(item_ids)
    counts = np.bincount(u, minlength=num_users)
    last = np.cumsum(counts) - 1  # rows are grouped by user in time order: the last row is the latest
    is_test = np.zeros(len(u), bool)
    is_test[last] = True
    if num_items - int(counts.max()) < eval_negatives:
        raise DataLayoutError(
            f"{source or 'the ratings'}: a user rated {counts.max()} of {num_items} items, leaving fewer than "
            f"{eval_negatives} items to sample evaluation negatives from"
        )
    negatives = sample_unseen(u, i, num_users, num_items, eval_negatives, np.random.default_rng(_EVAL_NEGATIVE_SEED))
    return Interactions(
        num_users=num_users,
        num_items=num_items,
        train_users=u[~is_test],
        train_items=i[~is_test],
        test_items=i[is_test],
        test_negatives=negatives,
        user_ids=user_ids,
        item_ids=item_ids,
        source=source,
    )


def sample_unseen(
    users: np.ndarray, items: np.ndarray, num_users: int, num_items: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """(num_users, k): per user k distinct items that (users, items) never pairs with it, uniformly at random."""
    seen = np.zeros((num_users, num_items), bool) if num_users * num_items <= 1 << 28 else None
    out = np.empty((num_users, k), np.int64)
    if seen is not None:
        seen[users, items] = True
        for user in range(num_users):
            pool = np.flatnonzero(~seen[user])
            out[user] = rng.choice(pool, k, replace=False)
        return out
    # ml-20m sized: per user, rejection sampling against the user's sorted items (memory ~ interactions only)
    order = np.argsort(users, kind="stable")
    offsets = np.concatenate(([0], np.cumsum(np.bincount(users, minlength=num_users))))
    by_user = items[order]
    for user in range(num_users):
        mine = np.sort(by_user[offsets[user] : offsets[user + 1]])
        chosen: list[int] = []
        taken: set[int] = set()
        while len(chosen) < k:
            draw = rng.integers(0, num_items, 2 * k)
            pos = np.searchsorted(mine, draw)
            fresh = draw[(pos >= len(mine)) | (mine[np.minimum(pos, len(mine) - 1)] != draw)]
            for item in fresh.tolist():
                if item not in taken and len(chosen) < k:
                    taken.add(item)
                    chosen.append(item)
        out[user] = chosen
    return out


def find_ratings(root: Path) -> Path:
    """The ratings file under `root`: ml-100k/u.data if present, else ml-20m/ratings.csv."""
    for rel in (ML100K_FILE, ML20M_FILE):
        if (Path(root) / rel).is_file():
            return Path(root) / rel
    raise DataLayoutError(
        f"--data-root {root} holds neither {Path(root) / ML100K_FILE} nor {Path(root) / ML20M_FILE} "
        f"(expected {MOVIELENS_DATASET.layout_hint})"
    )


def check_movielens(root: Path) -> None:
    """A data root holds one of the two layouts (the cheap check, before any session)."""
    find_ratings(root)


def load_movielens(root: Path, eval_negatives: int = 100, min_ratings: int = MIN_RATINGS) -> Interactions:
    """Read whichever MovieLens release is under `root` and split it MLPerf's way."""
    path = find_ratings(root)
    raw = read_u_data(path) if path.name == "u.data" else read_ratings_csv(path)
    return preprocess(raw, str(path), eval_negatives, min_ratings)


# ---------------------------------------------------------------------------------------------- generator

_T0 = 874_724_710  # MovieLens 100K's first timestamp (1997-09-20); its ratings span about seven months
_SPAN = 214 * 86400


@dataclass(frozen=True)
class MovieLensParams:
    """Size and taste model of an embedded `u.data` (see `generate_movielens`). Defaults: MovieLens 100K's size."""

    users: int = 943
    items: int = 1682
    ratings: int = 100_000  # total, approximately (each user has at least min_ratings)
    min_ratings: int = MIN_RATINGS
    max_ratings: int = 737  # MovieLens 100K's most active user
    factors: int = 16  # latent dimension of users' tastes and items' traits
    taste_scale: float = 1.0  # weight of the taste (dot product) term in a user's choice
    zipf: float = 0.8  # item popularity ~ 1 / rank^zipf
    popularity_weight: float = 0.5  # weight of log-popularity in a user's choice
    activity_sigma: float = 0.9  # log-normal spread of users' numbers of ratings

    def __post_init__(self) -> None:
        if min(self.users, self.items, self.factors) < 1 or not 2 <= self.min_ratings <= self.max_ratings:
            raise ValueError("embedded MovieLens needs users, items, factors >= 1 and 2 <= min_ratings <= max_ratings")
        if self.max_ratings >= self.items:
            raise ValueError("max_ratings must stay below the number of items (a user must leave some unrated)")
        if self.ratings < self.users * self.min_ratings:
            raise ValueError("ratings must be at least users x min_ratings")


def generate_movielens(root: Path, params: MovieLensParams, seed: int) -> None:
    """Write a synthetic MovieLens 100K `u.data`: tastes from a latent-factor model, popularity skew, activity skew.

    Each item has a popularity (Zipf over a random ranking of the items) and a trait vector; each user has a
    taste vector. A user's affinity for an item is taste_scale * <taste, trait> / sqrt(factors) + popularity_weight
    * log(popularity). A user rates n items (log-normal activity, at least min_ratings, scaled to the total),
    drawn without replacement with probabilities softmax(affinity) (the Gumbel top-n trick). The rated items are
    put in a random order and stamped with increasing times, so the held-out (latest) item is one more draw
    from the same taste as the training items: learnable from the user's other ratings through the items' traits
    (which the other users' ratings reveal), but only partly from popularity, since popularity is a minor term of
    the affinity. Ratings 1..5 follow the affinity within each user (its quintiles, with noise).
    """
    rng = np.random.default_rng(seed)
    n_users, n_items, d = params.users, params.items, params.factors
    rank = rng.permutation(n_items) + 1
    log_pop = -params.zipf * np.log(rank)
    traits = rng.normal(0, 1, (n_items, d))
    tastes = rng.normal(0, 1, (n_users, d))
    affinity = params.taste_scale * tastes @ traits.T / np.sqrt(d) + params.popularity_weight * log_pop

    activity = rng.lognormal(0, params.activity_sigma, n_users)
    extra = params.ratings - n_users * params.min_ratings
    counts = params.min_ratings + np.floor(extra * activity / activity.sum()).astype(np.int64)
    counts = np.minimum(counts, params.max_ratings)

    user_ids = rng.permutation(n_users) + 1  # 1-based, as in u.data; listed in a random order like the release
    item_ids = rng.permutation(n_items) + 1
    lines: list[str] = []
    for u in range(n_users):
        keys = affinity[u] + rng.gumbel(0, 1, n_items)
        chosen = np.argpartition(-keys, counts[u])[: counts[u]]
        chosen = rng.permutation(chosen)
        start = _T0 + int(rng.integers(0, _SPAN // 2))
        times = start + np.cumsum(rng.integers(1, 2 * _SPAN // (2 * counts[u]) + 2, counts[u]))
        a = affinity[u, chosen] + rng.normal(0, 0.3, counts[u])
        stars = 1 + np.searchsorted(np.quantile(a, [0.06, 0.17, 0.45, 0.79]), a)  # ML-100K's rating shares
        for item, t, r in zip(chosen, times, stars):
            lines.append(f"{user_ids[u]}\t{item_ids[item]}\t{r}\t{t}\n")
    order = rng.permutation(len(lines))  # u.data is not sorted by user or time
    path = Path(root) / ML100K_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines[j] for j in order))


MOVIELENS_DATASET = DatasetSpec(
    name="movielens",
    required=(),  # either release: checked by `validate`
    generate=generate_movielens,
    params=MovieLensParams,
    version=1,
    layout_hint="ml-100k/u.data (user<TAB>item<TAB>rating<TAB>timestamp) or ml-20m/ratings.csv "
    "(userId,movieId,rating,timestamp with its header)",
    validate=check_movielens,
)
