"""The public API in `zoo.__all__` resolves to what it documents, whatever has been imported."""

import importlib
import inspect
import pkgutil
import types

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


def test_public_functions_have_docstrings_with_examples_and_type_hints():
    for name in zoo.__all__:
        value = getattr(zoo, name)
        if not inspect.isfunction(value):
            continue
        assert value.__doc__ and "Example" in value.__doc__, f"zoo.{name} needs a docstring example"
        assert "return" in inspect.get_annotations(value), f"zoo.{name} needs a return type hint"
