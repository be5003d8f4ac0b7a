"""The docstring examples of every zoo module run.

Equivalent to `pytest --doctest-modules zoo` (less `zoo/__main__.py`, which would start the
command line), but part of the suite: a module added anywhere under zoo/ is picked up
automatically.
"""

import doctest
import importlib
import pkgutil
import tempfile

import pytest

import zoo

pytestmark = [
    pytest.mark.usefixtures("fresh_keras_session"),
    # Keras' TensorFlow backend calls np.array(tensor) when saving (keras/src/backend/tensorflow/
    # core.py); NumPy 2 warns about TF's __array__ signature. Not zoo's to fix.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]

MODULE_NAMES = sorted(
    ["zoo"]
    + [info.name for info in pkgutil.walk_packages(zoo.__path__, prefix="zoo.")
       if info.name != "zoo.__main__"]
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples(module_name: str) -> list[doctest.DocTest]:
    """The module's examples, each run with empty globals: as a user pasting it would, so an
    example imports what it uses instead of leaning on the module's own names."""
    module = importlib.import_module(module_name)
    return [test for test in doctest.DocTestFinder().find(module, globs={}) if test.examples]


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
        "zoo.tuning.hypermodels",
        "zoo.tuning.search",
        "zoo.tuning.trials",
        "zoo.serving.exporter",
        "zoo.serving.predictor",
    }
    assert expected <= with_examples


@pytest.mark.parametrize("module_name", [name for name in MODULE_NAMES if _examples(name)])
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here,
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # and their tempfile.mkdtemp() too
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _examples(module_name):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)

    assert results.attempted > 0
    assert results.failed == 0, "".join(report)
