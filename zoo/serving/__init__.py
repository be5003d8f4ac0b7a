"""Export and serving: `zoo.export` writes a SavedModel of raw inputs; `zoo.load` reads it back.

Modules: `signature` (the traced `serving_default`: preprocessing + model), `archive` (atomic
placement of the export directory and its `zoo.json`), `sources` (what can be exported: a
`TrainResult`, a workdir, a model), `exporter` (`export` and its parity check), `safety` (loading
`.keras` files without running code from them), `inputs` (checking and reading raw inputs),
`predictor` (`load`, `Predictor`), `paths` (the paths these read, checked without TensorFlow).

The package is not named `zoo.export`: importing a submodule `zoo.export` would replace the
function `zoo.export` with the module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo.lazy import lazy_exports

if TYPE_CHECKING:
    from zoo.serving.archive import ExportError, is_export, read_metadata
    from zoo.serving.exporter import export
    from zoo.serving.inputs import read_input_folder, read_inputs
    from zoo.serving.predictor import Predictor, load
    from zoo.serving.safety import UnsafeModelError

# Loaded on first use: most modules here import TensorFlow, and `paths` (plain Python) must not,
# so that the command line can check a model's path before TensorFlow starts.
_LAZY = {
    "ExportError": "zoo.serving.archive",
    "is_export": "zoo.serving.archive",
    "read_metadata": "zoo.serving.archive",
    "export": "zoo.serving.exporter",
    "read_input_folder": "zoo.serving.inputs",
    "read_inputs": "zoo.serving.inputs",
    "Predictor": "zoo.serving.predictor",
    "load": "zoo.serving.predictor",
    "UnsafeModelError": "zoo.serving.safety",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "ExportError",
    "Predictor",
    "UnsafeModelError",
    "export",
    "is_export",
    "load",
    "read_input_folder",
    "read_inputs",
    "read_metadata",
]
