"""Hyperparameter search with keras-tuner: per-entry hypermodels and a resumable `tune`.

Modules: `hypermodel` (`ZooHyperModel`: an entry's search space over its family builder),
`trials` (the oracles that time every trial, and the trials table), `search` (`tune`,
`TuneResult`). The search spaces themselves live next to each family builder in `zoo/models/`.
"""

from zoo.tuning.hypermodel import ZooHyperModel, hypermodel
from zoo.tuning.search import SearchConflictError, TuneResult, TuningError, tune

__all__ = [
    "SearchConflictError", "TuneResult", "TuningError", "ZooHyperModel", "hypermodel", "tune"
]
