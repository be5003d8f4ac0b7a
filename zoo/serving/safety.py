"""Load `.keras` files without running code from them.

A `.keras` file is a zip archive whose `config.json` names the classes to rebuild. Keras'
`safe_mode=True` refuses Python lambdas, but a file may still name any registered class or ask
Keras to import a module. Before anything is deserialized, `inspect_keras_archive` reads the
configuration as plain JSON and refuses every object that is not a Keras or zoo class (a `Lambda`
layer in particular); only then does Keras load the file, with `safe_mode=True`. There is no switch
to turn this off: a model that needs foreign code should be exported as a SavedModel instead.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.errors import DataError, ZooError, first_line

# Objects whose deserialization runs Python code that the file itself carries.
_CODE_CLASSES = {"Lambda", "__lambda__", "__python_function__"}
_TRUSTED_PACKAGES = ("keras", "zoo")


class UnsafeModelError(ZooError, ValueError):
    """A saved model that would run code from the file, or code outside Keras and the zoo."""


def _objects(node: Any, path: str = "config") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every serialized object (a dict with a `class_name`) in a Keras config, with where it is."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{path}[{index}]")


def _trusted(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in _TRUSTED_PACKAGES)


def _registered_function(node: dict) -> str | None:
    """The registered name ("zoo>lower") of a function Keras saved by that name, such as zoo's
    text standardizations: {"module": "builtins", "class_name": "function", "config": NAME}."""
    config = node.get("config")
    if node.get("class_name") == "function" and isinstance(config, str) and ">" in config:
        return config
    return None


def _refusal(path: Path, problem: str) -> UnsafeModelError:
    return UnsafeModelError(
        f"refusing to load {path}: {problem}. Loading it could run arbitrary code, so zoo only "
        f"loads .keras files made of Keras and zoo classes. Rebuild the model without it, or "
        f"export a SavedModel from where the code is trusted (zoo.export) and load that."
    )


def inspect_keras_archive(path: str | os.PathLike) -> dict[str, Any]:
    """Read a `.keras` file's configuration and refuse code; return the configuration.

    Raises:
        DataError: not a readable `.keras` archive (truncated, corrupt, or another kind of file).
        UnsafeModelError: a `Lambda` layer, a serialized Python function, or a class from a
            module outside Keras and the zoo.

    Example:
        >>> import tempfile, zoo
        >>> from zoo.serving.safety import inspect_keras_archive
        >>> path = tempfile.mkdtemp() + "/mlp.keras"
        >>> zoo.build("mlp_mnist").save(path)
        >>> inspect_keras_archive(path)["class_name"]
        'Functional'
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError, EOFError) as error:
        raise DataError(
            f"{path} is not a readable .keras file ({type(error).__name__}: {error}); it may be "
            f"truncated or corrupt. Expected a zip archive with config.json and model.weights.h5, "
            f"as model.save('model.keras') writes; save or copy the model again."
        ) from None
    for where, node in _objects(config):
        class_name = str(node.get("class_name"))
        module = node.get("module")
        # A registered function is saved by name (module "builtins"), not as Python code: its
        # registering package is what must be trusted, as for a registered class.
        function = _registered_function(node)
        registered = function or node.get("registered_name")
        if class_name in _CODE_CLASSES:
            raise _refusal(path, f"it holds a {class_name} (at {where}), i.e. Python code")
        if function is None and module is not None and not _trusted(str(module)):
            raise _refusal(
                path, f"it needs class {class_name!r} from module {module!r} (at {where})"
            )
        if isinstance(registered, str) and ">" in registered:
            package = registered.split(">", 1)[0]
            if package not in _TRUSTED_PACKAGES:
                raise _refusal(path, f"it needs class {registered!r} registered by package "
                                     f"{package!r} (at {where})")
    return config


def load_keras_model(path: str | os.PathLike) -> Any:
    """Load a `.keras` model after `inspect_keras_archive`, with Keras' `safe_mode=True`.

    The model comes back uncompiled: serving needs no optimizer, and a compiled file would have to
    rebuild its loss and metrics too.

    Raises:
        DataError: a missing or unreadable file.
        UnsafeModelError: see `inspect_keras_archive`; also when Keras itself refuses the file.

    Example:
        >>> import tempfile, zoo
        >>> from zoo.serving.safety import load_keras_model
        >>> path = tempfile.mkdtemp() + "/mlp.keras"
        >>> zoo.build("mlp_mnist").save(path)
        >>> load_keras_model(path).name
        'mlp_mnist'
    """
    import keras

    import zoo.data.images  # noqa: F401  registers ImageNormalization and RandomAffine
    from zoo.registry import list_models

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; expected a .keras file.")
    inspect_keras_archive(path)
    list_models()  # imports the built-in entries, which registers zoo's custom layers
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except (TypeError, ValueError) as error:
        if "safe_mode" in str(error) or "arbitrary code" in str(error):
            raise _refusal(path, "Keras' safe mode found code in it") from None
        raise DataError(
            f"could not load {path}: {first_line(error)}. "
            f"Expected a model saved by zoo or model.save('model.keras') with this Keras "
            f"version or an earlier 3.x one."
        ) from None
    except OSError as error:
        raise DataError(
            f"could not read the weights in {path} ({error}); the file may be truncated or "
            f"corrupt. Save or copy the model again."
        ) from None
