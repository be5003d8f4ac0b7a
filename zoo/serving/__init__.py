"""Export and serving: `zoo.export` writes a SavedModel of raw inputs; `zoo.load` reads it back.

Modules: `signature` (the traced `serving_default`: preprocessing + model), `archive` (atomic
placement of the export directory and its `zoo.json`), `sources` (what can be exported: a
`TrainResult`, a workdir, a model), `exporter` (`export` and its parity check), `safety` (loading
`.keras` files without running code from them), `inputs` (checking and reading raw inputs),
`predictor` (`load`, `Predictor`).

The package is not named `zoo.export`: importing a submodule `zoo.export` would replace the
function `zoo.export` with the module.
"""

from zoo.serving.archive import ExportError, is_export, read_metadata
from zoo.serving.exporter import export
from zoo.serving.inputs import read_input_folder, read_inputs
from zoo.serving.predictor import Predictor, load
from zoo.serving.safety import UnsafeModelError

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
