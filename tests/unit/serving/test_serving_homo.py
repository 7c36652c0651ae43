"""A deployed homo_lr client model scores a row online exactly as the batch ``predict`` scores it."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer

from serving.scorers import Homo, feature_vector
from silobridge.federation import codec
from silobridge.testing import run_component
from silobridge.testing.datasets import horizontal_split
from silobridge.testing.stored import predict_alone


def test_online_homo_lr_score_equals_batch_predict() -> None:
    data = load_breast_cancer()
    x = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    tables = horizontal_split(x, data.target.astype(np.float64), 2, seed=3)
    run = run_component(
        "homo_lr",
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": tables[0]}, 2: {"data": tables[1]}},
        params={"seed": 7, "rounds": 5, "local_epochs": 1, "batch_size": 64, "learning_rate": 0.5},
        recv_timeout_s=60,
    )
    run.raise_any()
    model = codec.from_bytes(codec.to_bytes(run.result(2).model))  # as deployed: through the codec
    batch = predict_alone(model, tables[1], party=2)
    batch.raise_any()
    expected = batch.result(2).tables["predictions"].features[:, 0]

    scorer = Homo.from_model(model, "homo_lr")
    assert scorer.feature_names == tables[1].feature_names
    for row in range(10):
        features = dict(zip(tables[1].feature_names, tables[1].features[row].tolist(), strict=True))
        online = scorer.score(feature_vector(scorer.feature_names, features))
        assert abs(float(online) - expected[row]) <= 1e-9  # type: ignore[arg-type]
