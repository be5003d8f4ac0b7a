"""Hyperparameter search with keras-tuner: per-entry hypermodels and a resumable `tune`.

Modules: `hypermodels` (`ZooHyperModel`: an entry's search space over its family builder,
and `hypermodel(name)`), `fixed` (holding hyperparameters at a value: `fixed=`), `trials` (the
oracles that time every trial, and the trials table), `search` (`tune`, `TuneResult`). The
search spaces themselves live next to each family builder in `zoo/models/`.
"""

from zoo.tuning.hypermodels import ZooHyperModel, hypermodel
from zoo.tuning.search import SearchConflictError, TuneResult, TuningError, tune

__all__ = [
    "SearchConflictError", "TuneResult", "TuningError", "ZooHyperModel", "hypermodel", "tune"
]
