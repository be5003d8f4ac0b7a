"""Load `.keras` files without running code from them, and exports without I/O operations.

A `.keras` file is a zip archive whose `config.json` names the classes to rebuild. Keras'
`safe_mode=True` refuses Python lambdas, but a file may still name any registered class or ask
Keras to import a module. Before anything is deserialized, `inspect_keras_archive` reads the
configuration as plain JSON and refuses a `Lambda` layer or serialized function, and every class
outside the trusted packages: Keras, zoo, and the packages whose code makes a registered zoo entry
(its spec function or builder, `zoo.registry.entry_packages`), so that a third-party entry with its
own layers loads. A registered name ("acme>Scale") must already be registered with Keras in this
process, by code of a trusted package, so the file makes Keras import nothing new. Only then does
Keras load the file, with `safe_mode=True`. There is no switch to turn this off: a model that needs
other code should be exported as a SavedModel instead.

A SavedModel carries no Python, but its graph runs when it is loaded (resource initializers) and
called, and TensorFlow has operations that read and write files, print to them, run Python
callbacks, reach other machines or abort the process. `inspect_saved_model` reads the graph as
data first and refuses any such operation in the functions loading and serving can run; the
checkpoint functions TensorFlow adds to every SavedModel (save and restore, run only when the
loaded object is checkpointed again) are not among them. SavedModels in TensorFlow 1's format,
whose loading runs graph operations outside functions, are refused, as zoo.export never writes one.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.errors import DataError, InvalidValueError, ZooError, first_line

# Objects whose deserialization runs Python code that the file itself carries.
_CODE_CLASSES = {"Lambda", "__lambda__", "__python_function__"}
_TRUSTED_PACKAGES = ("keras", "zoo")

_KERAS = frozenset({"keras"})

# TensorFlow operations an export has no business running: files and checkpoints, printing,
# summaries and debug dumps (both write files), datasets and readers (they read files),
# Python callbacks, other machines (collectives, tf.data service, RPC), memory-mapped files and
# aborting the process. Families by name, so that a new version of an op (WriteFileV2) is refused
# too; zoo's own exports use none of them (tests/test_export.py checks each family's).
_IO_OPERATIONS = re.compile(
    r"File|Save|Restore|Checkpoint|Print|Summary|Debug|Dataset|Reader|PyFunc|Collective|"
    r"DataService|Rpc|ImmutableConst|Abort|LoadAndRemap|VocabRemapping|RecordInput|Sql|Lmdb|"
    r"LMDB|Snapshot|DecodeProto"
)


class UnsafeModelError(ZooError, ValueError):
    """A saved model that would run code from the file, or code outside the trusted packages."""


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


def _trusted(module: str, packages: frozenset[str]) -> bool:
    return module.split(".")[0] in packages


def trusted_packages() -> frozenset[str]:
    """Keras, zoo, and the packages that make a registered entry; importing the registry's
    entries (and their plug-ins) and zoo's Keras objects first registers what they define.

    Example:
        >>> from zoo.serving.safety import trusted_packages
        >>> {"keras", "zoo"} <= trusted_packages()
        True
    """
    import zoo.keras_objects  # noqa: F401  registers zoo's layers, loss and schedule
    from zoo.registry import entry_packages

    # "builtins" (a builder such as `type`) would let a file name eval or exec as a class.
    return (frozenset(_TRUSTED_PACKAGES) | entry_packages()) - {"builtins"}


def _registering_module(registered: str) -> str | None:
    """The module of the object that "package>Name" is registered as with Keras, if any."""
    import keras

    registered_object = keras.saving.get_registered_object(registered)
    return None if registered_object is None else getattr(registered_object, "__module__", None)


def _registered_function(node: dict) -> str | None:
    """The registered name ("zoo>lower") of a function Keras saved by that name, such as zoo's
    text standardizations: {"module": "builtins", "class_name": "function", "config": NAME}."""
    config = node.get("config")
    if node.get("class_name") == "function" and isinstance(config, str) and ">" in config:
        return config
    return None


def _refusal(path: Path, problem: str, packages: frozenset[str]) -> UnsafeModelError:
    return UnsafeModelError(
        f"refusing to load {path}: {problem}. Loading it could run arbitrary code, so zoo only "
        f"loads .keras files made of classes from Keras, zoo and the packages that make a "
        f"registered zoo entry (now: {', '.join(sorted(packages))}). Import the package whose "
        f"entry the model is (its @zoo.register_model and its layers' "
        f"@keras.saving.register_keras_serializable) before loading, rebuild the model without "
        f"it, or export a SavedModel from where the code is trusted (zoo.export) and load that."
    )


def _first_problem(config: dict[str, Any], packages: frozenset[str]) -> str | None:
    """What in a Keras configuration zoo will not load (the first thing found), or None."""
    for where, node in _objects(config):
        class_name = str(node.get("class_name"))
        module = node.get("module")
        # A registered function is saved by name (module "builtins"), not as Python code: its
        # registering package is what must be trusted, as for a registered class.
        function = _registered_function(node)
        registered = function or node.get("registered_name")
        if class_name in _CODE_CLASSES:
            return f"it holds a {class_name} (at {where}), i.e. Python code"
        if function is None and module is not None and not _trusted(str(module), packages):
            return f"it needs class {class_name!r} from module {module!r} (at {where})"
        if isinstance(registered, str) and ">" in registered:
            # Keras looks a registered name up before importing anything: what the lookup finds
            # is the code that runs, so that is what must come from a trusted package.
            owner = _registering_module(registered)
            if owner is None:
                return (f"it needs {registered!r} (at {where}), which nothing imported in this "
                        f"process registers with Keras")
            if not _trusted(owner, packages):
                return f"it needs {registered!r}, registered by module {owner!r} (at {where})"
        elif function is None and module is not None and not _trusted(str(module), _KERAS):
            # Keras finds classes outside its own packages by registered name only.
            return (f"class {class_name!r} from module {module!r} (at {where}) is not registered "
                    f"with Keras: decorate it with "
                    f"@keras.saving.register_keras_serializable(package=...)")
    return None


def check_reloadable(model: Any) -> None:
    """Refuse a model whose `.keras` files zoo would not load back, before it trains.

    `zoo.train` with a workdir saves `.keras` files of the model as it trains and reloads them
    (the best epoch, `zoo.load`, fine-tuning); a layer without a configuration, an unregistered
    class or a `Lambda` would only fail there, after the training.

    Raises:
        InvalidValueError: what would fail, and how to fix it.

    Example:
        >>> import keras, zoo
        >>> from zoo.serving.safety import check_reloadable
        >>> check_reloadable(zoo.build("mlp_mnist"))
        >>> inputs = keras.Input((4,))
        >>> check_reloadable(keras.Model(inputs, keras.layers.Lambda(lambda x: 2 * x)(inputs)))
        Traceback (most recent call last):
        ...
        zoo.errors.InvalidValueError: ... could not be loaded back ...: it holds a Lambda ...
    """
    import keras

    try:
        config = keras.saving.serialize_keras_object(model)
    except NotImplementedError as error:
        raise InvalidValueError(
            f"model {model.name} cannot be saved: {first_line(error)} A layer of your own needs "
            f"get_config() returning its __init__ arguments (see Keras' guide to serialization)."
        ) from None
    problem = _first_problem(config, trusted_packages())
    if problem is not None:
        raise InvalidValueError(
            f"model {model.name} could not be loaded back from the .keras files zoo.train "
            f"writes to its workdir: {problem}. Write Python code as a Layer subclass of your "
            f"own, registered with @keras.saving.register_keras_serializable(package=...) in "
            f"the package that registers the entry; or train without a workdir."
        )


def inspect_keras_archive(path: str | os.PathLike) -> dict[str, Any]:
    """Read a `.keras` file's configuration and refuse code; return the configuration.

    Raises:
        DataError: not a readable `.keras` archive (truncated, corrupt, or another kind of file).
        UnsafeModelError: a `Lambda` layer, a serialized Python function, or a class from
            outside the trusted packages (see the module docstring).

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
    packages = trusted_packages()
    problem = _first_problem(config, packages)
    if problem is not None:
        raise _refusal(path, problem, packages)
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

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; expected a .keras file.")
    inspect_keras_archive(path)  # also registers zoo's and the entries' Keras objects
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except (TypeError, ValueError) as error:
        if "safe_mode" in str(error) or "arbitrary code" in str(error):
            raise _refusal(path, "Keras' safe mode found code in it",
                           trusted_packages()) from None
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


def inspect_saved_model(path: str | os.PathLike) -> None:
    """Refuse a SavedModel whose loading or serving could run an I/O operation (see the module
    docstring), reading `saved_model.pb` as data; nothing of it runs here.

    Raises:
        DataError: `saved_model.pb` is missing or not a SavedModel.
        UnsafeModelError: an operation of `_IO_OPERATIONS` in a function loading or serving can
            run, or a SavedModel in TensorFlow 1's format.

    Example:
        >>> import tempfile, tensorflow as tf
        >>> from zoo.serving.safety import inspect_saved_model
        >>> class Echo(tf.Module):
        ...     @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        ...     def __call__(self, text):
        ...         tf.io.write_file("/tmp/copy.txt", tf.strings.reduce_join(text))
        ...         return text
        >>> directory = tempfile.mkdtemp()
        >>> tf.saved_model.save(Echo(), directory)
        >>> inspect_saved_model(directory)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        zoo.serving.safety.UnsafeModelError: refusing to load ...: it runs WriteFile ...
    """
    from tensorflow.core.protobuf import saved_model_pb2

    path = Path(path)
    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
        meta_graph, = saved_model.meta_graphs
    except (OSError, ValueError) as error:
        raise DataError(
            f"could not load the SavedModel in {path} ({first_line(error) or 'no graph'}); it may "
            f"be truncated or corrupt. Export the model again."
        ) from None
    except Exception as error:  # protobuf's DecodeError, whose module varies by implementation
        raise DataError(
            f"could not load the SavedModel in {path} ({type(error).__name__}); it may be "
            f"truncated or corrupt. Export the model again."
        ) from None
    functions = {function.signature.name: function
                 for function in meta_graph.graph_def.library.function}
    roots = set(meta_graph.object_graph_def.concrete_functions)
    if not meta_graph.object_graph_def.nodes:
        raise UnsafeModelError(
            f"refusing to load {path}: it is a SavedModel in TensorFlow 1's format, whose "
            f"loading runs graph operations zoo does not inspect. zoo.export writes TensorFlow 2 "
            f"SavedModels: export the model again with zoo.export."
        )
    reached: set[str] = set()
    pending = sorted(roots & set(functions))
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        for node in functions[name].node_def:
            called = _called_functions(node) & set(functions)
            pending.extend(sorted(called - reached))
            if node.op not in functions and _IO_OPERATIONS.search(node.op):
                raise UnsafeModelError(
                    f"refusing to load {path}: it runs {node.op} (in {name}), an operation "
                    f"that reads or writes files, prints, calls Python or reaches other "
                    f"processes, which a model export has no need of; zoo.export never writes "
                    f"one. Load it only if you trust where it came from, with "
                    f"tf.saved_model.load, outside zoo."
                )


def _called_functions(node: Any) -> set[str]:
    """The functions a graph node calls: its op itself, or function-valued attributes (the
    bodies of StatefulPartitionedCall, If, While...)."""
    called = {node.op}
    for value in node.attr.values():
        if value.HasField("func"):
            called.add(value.func.name)
        if value.HasField("list"):
            called.update(function.name for function in value.list.func)
    return called
