"""The docstring examples of the registry, specs, errors, models, training, serving and tuning
modules run.

Equivalent to `pytest --doctest-modules zoo/registry.py zoo/spec.py zoo/models zoo/training
zoo/serving zoo/tuning zoo/errors.py`, but part of the suite: a module added under zoo/models,
zoo/training, zoo/serving or zoo/tuning is picked up automatically.
"""

import doctest
import importlib
import pkgutil

import pytest

import zoo.models
import zoo.serving
import zoo.training
import zoo.tuning

pytestmark = [
    pytest.mark.usefixtures("fresh_keras_session"),
    # Keras' TensorFlow backend calls np.array(tensor) when saving (keras/src/backend/tensorflow/
    # core.py); NumPy 2 warns about TF's __array__ signature. Not zoo's to fix.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]

MODULE_NAMES = sorted(
    ["zoo", "zoo.registry", "zoo.spec", "zoo.errors", "zoo.checks"]
    + [f"zoo.models.{info.name}" for info in pkgutil.iter_modules(zoo.models.__path__)]
    + [f"zoo.training.{info.name}" for info in pkgutil.iter_modules(zoo.training.__path__)]
    + [f"zoo.tuning.{info.name}" for info in pkgutil.iter_modules(zoo.tuning.__path__)]
    + [f"zoo.serving.{info.name}" for info in pkgutil.iter_modules(zoo.serving.__path__)]
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    return [test for test in doctest.DocTestFinder().find(module) if test.examples]


def test_public_api_modules_have_examples():
    with_examples = {name for name in MODULE_NAMES if _examples(name)}
    expected = {
        "zoo",
        "zoo.registry",
        "zoo.spec",
        "zoo.errors",
        "zoo.models.mlp",
        "zoo.models.cnn",
        "zoo.models.lstm",
        "zoo.models.transformer",
        "zoo.models.layers",
        "zoo.training.compile",
        "zoo.training.losses",
        "zoo.tuning.hypermodel",
        "zoo.tuning.search",
        "zoo.tuning.trials",
        "zoo.serving.exporter",
        "zoo.serving.predictor",
    }
    assert expected <= with_examples


@pytest.mark.parametrize("module_name", [name for name in MODULE_NAMES if _examples(name)])
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _examples(module_name):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)

    assert results.attempted > 0
    assert results.failed == 0, "".join(report)
