"""DC-AI-C10: MovieLens readers, MLPerf's preprocessing, the embedded generator, HR/nDCG and the baselines."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score

from aibench.baselines.recommendation import item_knn, popularity
from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.movielens import (
    ML20M_FILE,
    ML100K_FILE,
    MovieLensParams,
    find_ratings,
    generate_movielens,
    load_movielens,
    preprocess,
    read_ratings_csv,
    read_u_data,
)
from aibench.metrics.recommendation import (
    hit_rate_at_k,
    ndcg_at_k,
    ranks_against_negatives,
    ranks_in_lists,
    recommendation_metrics,
)

SMALL = MovieLensParams(users=30, items=150, ratings=30 * 25, max_ratings=60, factors=4)


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _u_data_lines(users: int, per_user: int, items: int) -> str:
    """Every user rates items u, u+1, ... (mod items) at increasing times: the latest is u+per_user-1."""
    lines = []
    for u in range(1, users + 1):
        for j in range(per_user):
            lines.append(f"{u}\t{(u + j) % items + 1}\t{1 + j % 5}\t{1000 * u + j}\n")
    return "".join(reversed(lines))  # not in time order, like the release


def test_u_data_reader(tmp_path: Path) -> None:
    path = _write(tmp_path, ML100K_FILE, "196\t242\t3\t881250949\n186\t302\t3\t891717742\n\n")
    r = read_u_data(path)
    assert len(r) == 2
    assert r.users.tolist() == [196, 186] and r.items.tolist() == [242, 302]
    assert r.ratings.tolist() == [3.0, 3.0] and r.timestamps.tolist() == [881250949, 891717742]


def test_ratings_csv_reader(tmp_path: Path) -> None:
    text = "userId,movieId,rating,timestamp\r\n1,2,3.5,1112486027\r\n1,29,0.5,1112484676\r\n"
    r = read_ratings_csv(_write(tmp_path, ML20M_FILE, text))
    assert r.users.tolist() == [1, 1] and r.items.tolist() == [2, 29]
    assert r.ratings.tolist() == [3.5, 0.5] and r.timestamps.tolist() == [1112486027, 1112484676]


@pytest.mark.parametrize(
    ("rel", "text", "line", "what"),
    [
        (ML100K_FILE, "1\t2\t3\t100\n1\t2\t3\n", 2, "fields"),
        (ML100K_FILE, "1\t2\t3\t100\n\n1\tx\t3\t100\n", 3, "item id"),
        (ML100K_FILE, "1\t2\t9\t100\n", 1, "rating"),
        (ML100K_FILE, "1\t2\t3\t1.5\n", 1, "timestamp"),
        (ML20M_FILE, "userId,movieId,rating,timestamp\n1,2,3.5,10\n1,2,abc,11\n", 3, "rating"),
        (ML20M_FILE, "user,movie,rating,time\n1,2,3.5,10\n", 1, "header"),
    ],
)
def test_corrupt_line_names_file_and_line(tmp_path: Path, rel: str, text: str, line: int, what: str) -> None:
    path = _write(tmp_path, rel, text)
    with pytest.raises(DataLayoutError) as err:
        load_movielens(tmp_path)
    message = str(err.value)
    assert str(path) in message and f"line {line}" in message and what in message


def test_missing_and_empty_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="ml-100k/u.data"):
        find_ratings(tmp_path)
    path = _write(tmp_path, ML100K_FILE, "\n")
    with pytest.raises(DataLayoutError, match=str(path)):
        load_movielens(tmp_path)


def test_100k_is_preferred_to_20m(tmp_path: Path) -> None:
    _write(tmp_path, ML20M_FILE, "userId,movieId,rating,timestamp\n")
    _write(tmp_path, ML100K_FILE, _u_data_lines(3, 25, 200))
    assert find_ratings(tmp_path).name == "u.data"


def test_leave_latest_out_and_fixed_negatives(tmp_path: Path) -> None:
    _write(tmp_path, ML100K_FILE, _u_data_lines(users=5, per_user=25, items=200))
    d = load_movielens(tmp_path, eval_negatives=3)  # 29 items in all, 25 rated by each user
    assert d.num_users == 5 and len(d.train_items) == 5 * 24
    for u in range(5):
        raw_user = int(d.user_ids[u])
        latest_raw_item = (raw_user + 24) % 200 + 1  # the largest timestamp
        assert int(d.item_ids[d.test_items[u]]) == latest_raw_item
        assert d.test_items[u] not in d.train_items[d.train_users == u]
    again = load_movielens(tmp_path, eval_negatives=3)
    assert np.array_equal(d.test_negatives, again.test_negatives)  # fixed by the data, not a session


def test_preprocess_drops_light_users_and_duplicates(tmp_path: Path) -> None:
    text = _u_data_lines(users=3, per_user=25, items=200) + "9\t1\t3\t5\n" * 19  # user 9: one item, 19 lines
    text += "1\t2\t5\t1000000\n"  # user 1 rates item 2 again, latest: a duplicate pair keeps its first line
    _write(tmp_path, ML100K_FILE, text)
    raw = read_u_data(tmp_path / ML100K_FILE)
    d = preprocess(raw, "x", eval_negatives=2)
    assert d.num_users == 3 and 9 not in d.user_ids.tolist()
    assert int(d.item_ids[d.test_items[0]]) == (1 + 24) % 200 + 1  # not the re-rated item 2


def test_generator_is_deterministic_and_in_the_release_layout(tmp_path: Path) -> None:
    generate_movielens(tmp_path / "a", SMALL, seed=3)
    generate_movielens(tmp_path / "b", SMALL, seed=3)
    generate_movielens(tmp_path / "c", SMALL, seed=4)
    a = (tmp_path / "a" / ML100K_FILE).read_bytes()
    assert a == (tmp_path / "b" / ML100K_FILE).read_bytes()
    assert a != (tmp_path / "c" / ML100K_FILE).read_bytes()
    raw = read_u_data(tmp_path / "a" / ML100K_FILE)  # the real reader reads it
    counts = np.unique(raw.users, return_counts=True)[1]
    assert len(counts) == SMALL.users and counts.min() >= SMALL.min_ratings
    assert set(np.unique(raw.ratings).tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    pairs = np.stack([raw.users, raw.items])
    assert np.unique(pairs, axis=1).shape[1] == len(raw)  # no user rates an item twice


def test_eval_negatives_are_distinct_and_never_seen_by_the_user(tmp_path: Path) -> None:
    generate_movielens(tmp_path, SMALL, seed=0)
    d = load_movielens(tmp_path, eval_negatives=50)
    assert d.test_negatives.shape == (SMALL.users, 50)
    for u in range(d.num_users):
        seen = set(d.train_items[d.train_users == u].tolist()) | {int(d.test_items[u])}
        negs = d.test_negatives[u].tolist()
        assert len(set(negs)) == 50 and not seen & set(negs)
    cand = d.candidates()
    assert np.array_equal(cand[:, -1], d.test_items)


def test_hr_and_ndcg_on_a_hand_computed_case() -> None:
    # held-out item last; user 0: two negatives above it (rank 2); user 1: top (rank 0); user 2: a tie with a
    # negative (ranked against it: rank 1); user 3: 11 negatives above (rank 11, outside the top 10).
    scores = np.array(
        [
            [0.9, 0.1, 0.8] + [0.0] * 11 + [0.5],
            [0.1] * 14 + [0.9],
            [0.5] + [0.0] * 13 + [0.5],
            [0.9] * 11 + [0.0] * 3 + [0.5],
        ]
    )
    ranks = ranks_against_negatives(scores)
    assert ranks.tolist() == [2, 0, 1, 11]
    assert hit_rate_at_k(ranks, 10) == 0.75
    assert ndcg_at_k(ranks, 10) == pytest.approx((1 / math.log2(4) + 1 + 1 / math.log2(3) + 0) / 4)
    # scikit-learn's nDCG@10 agrees on the tie-free users (it averages over ties instead)
    for u in (0, 1, 3):
        relevance = np.zeros((1, scores.shape[1]))
        relevance[0, -1] = 1
        assert ndcg_score(relevance, scores[u : u + 1], k=10) == pytest.approx(ndcg_at_k(ranks[u : u + 1], 10))
    # the same ranks read from top-10 lists, as score() reads infer()'s outputs
    held_out = np.array([7, 7, 7, 7])
    lists = {0: np.array([1, 2, 7, 3]), 1: np.array([7, 1]), 2: np.array([1, 7]), 3: np.arange(10) + 10}
    assert ranks_in_lists(lists, held_out).tolist() == [2, 0, 1, 10]
    assert recommendation_metrics(ranks_in_lists(lists, held_out))["hr@10"] == 0.75


def test_baselines_rank_the_candidates() -> None:
    # items 0..5; item 5 is the most popular; user 0 saw 0 and 1 (which co-occur with 2 for user 1)
    train_users = np.array([0, 0, 1, 1, 1, 2, 2, 3])
    train_items = np.array([0, 1, 0, 1, 2, 5, 4, 5])
    candidates = np.array([[5, 3, 2], [3, 4, 5], [0, 1, 2], [0, 1, 2]])
    pop = popularity(train_users, train_items, candidates, 6, k=2)
    assert pop[0].tolist() == [5, 2] and pop[1].tolist() == [5, 4]
    knn = item_knn(train_users, train_items, candidates, 4, 6, k=1)
    assert knn[0].tolist() == [2]  # co-occurs with the user's items; 5 never does


def test_training_negatives_avoid_the_users_training_items() -> None:
    from aibench.benchmarks.base import BenchmarkContext
    from aibench.benchmarks.recommendation.benchmark import Recommendation
    from aibench.datasets.embedded import ensure_embedded

    settings = Recommendation.profiles["tiny"]
    root = ensure_embedded(Recommendation.dataset, settings.data)
    bench = Recommendation(BenchmarkContext("tiny", settings, root, torch.device("cpu"), seed=1))
    bench.build()
    bench.load_data()
    batches = list(bench.train_batches(1))
    users = torch.cat([b["users"] for b in batches])
    items = torch.cat([b["items"] for b in batches])
    labels = torch.cat([b["labels"] for b in batches])
    assert len(users) == bench.train_samples() and int(labels.sum()) == len(bench.data.train_items)
    seen = set(zip(bench.data.train_users.tolist(), bench.data.train_items.tolist()))
    negatives = zip(users[labels == 0].tolist(), items[labels == 0].tolist())
    assert not any(pair in seen for pair in negatives)
    again = list(bench.train_batches(1))
    assert torch.equal(torch.cat([b["items"] for b in again]), items)  # an epoch's draw is seeded
    assert not torch.equal(torch.cat([b["items"] for b in bench.train_batches(2)]), items)  # and redrawn
