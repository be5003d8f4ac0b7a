"""The public API in `zoo.__all__` resolves to what it documents, whatever has been imported."""

import importlib
import inspect
import pkgutil
import types

import pytest

import zoo


def _import_every_module() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(zoo.__path__, prefix="zoo."):
        if module.name != "zoo.__main__":
            importlib.import_module(module.name)
            names.append(module.name)
    return names


def test_every_public_name_resolves():
    for name in zoo.__all__:
        assert getattr(zoo, name) is not None, name


def test_importing_submodules_never_shadows_a_public_function():
    # `import zoo.evaluate` (a module) would replace the function `zoo.evaluate` on the package:
    # no module may share its name with a public function or class.
    assert _import_every_module()
    modules_by_design = {"data"}  # zoo.data is the data package itself
    for name in zoo.__all__:
        value = getattr(zoo, name)
        if name in modules_by_design:
            assert isinstance(value, types.ModuleType)
        else:
            assert not isinstance(value, types.ModuleType), (
                f"zoo.{name} is the module {value.__name__}, not the public object: "
                "rename the module"
            )


def test_no_subpackage_module_shares_a_name_with_its_public_objects():
    # zoo.tuning.hypermodel was both the function and a module: `import zoo.tuning.hypermodel as
    # m` gave the function.
    assert _import_every_module()
    for package in (zoo.data, zoo.models, zoo.serving, zoo.tuning):
        modules = {info.name for info in pkgutil.iter_modules(package.__path__)}
        shadowed = modules & {name for name in package.__all__
                              if not isinstance(getattr(package, name), types.ModuleType)}
        assert not shadowed, f"{package.__name__}: modules named as public objects: {shadowed}"


def test_zoo_models_still_names_its_keras_pieces():
    # zoo.models imports no Keras (listing entries stays fast: test_cli checks it in a fresh
    # process); its layers and classifier_head are still its public names, for plug-ins and tab
    # completion.
    import zoo.models
    import zoo.models.blocks
    import zoo.models.layers

    assert zoo.models.classifier_head is zoo.models.blocks.classifier_head
    assert zoo.models.HashedBigrams is zoo.models.layers.HashedBigrams
    assert set(zoo.models.__all__) <= set(dir(zoo.models))
    with pytest.raises(AttributeError, match="module 'zoo.models' has no attribute 'no_such'"):
        zoo.models.no_such  # noqa: B018


def test_dir_lists_the_public_api_for_tab_completion():
    assert set(zoo.__all__) <= set(dir(zoo))
    assert not [name for name in dir(zoo) if not name.startswith("_") and name not in zoo.__all__
                and not isinstance(getattr(zoo, name), types.ModuleType)]


def test_public_functions_have_docstrings_with_examples_and_type_hints():
    for name in zoo.__all__:
        value = getattr(zoo, name)
        if not inspect.isfunction(value):
            continue
        assert value.__doc__ and "Example" in value.__doc__, f"zoo.{name} needs a docstring example"
        assert "return" in inspect.get_annotations(value), f"zoo.{name} needs a return type hint"


def test_keras_reads_zoo_files_after_import_zoo(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "lstm.keras"  # custom layers (HashedBigrams) and a compiled optimizer
    zoo.build("lstm_sst2", vocab_size=50, sequence_length=8).save(path)
    script = (f"import keras, zoo\nkeras.models.load_model({str(path)!r})\n"
              "import sys\nprint('loaded', 'keras' in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0 and "loaded True" in ran.stdout, ran.stderr[-1500:]
    # without Keras loaded first, import zoo stays light
    light = subprocess.run([sys.executable, "-c", "import sys, zoo; print('keras' in sys.modules)"],
                           capture_output=True, text=True, timeout=300)
    assert light.stdout.strip() == "False", light.stderr[-1500:]
