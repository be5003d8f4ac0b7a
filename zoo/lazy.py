"""Names a package exports but imports on first use (PEP 562), so that importing the package
stays fast where those names would import Keras or TensorFlow."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level `__getattr__` and `__dir__` of `package` for `exports`, which maps each
    name to the module defining it (a name that is that module's own last part is the module).

    A name is imported on first use, then kept in the package's namespace; `dir()` lists the
    names before their first use, for tab completion.

    Example:
        >>> from zoo.lazy import lazy_exports
        >>> getattr_, dir_ = lazy_exports("zoo", {"evaluate": "zoo.evaluation"})
        >>> getattr_("evaluate").__name__, "evaluate" in dir_()
        ('evaluate', True)
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        value = module if module.__name__ == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
