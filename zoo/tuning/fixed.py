"""Hold some hyperparameters of a search space at a value and search the rest (`zoo.tune(...,
fixed=...)`, `zoo tune --fix`).

keras-tuner's own way is a `HyperParameters` given to the tuner with `Fixed` entries already in
it: when the search space later declares a hyperparameter of that name, the fixed one answers.
A `Fixed` entry only stands in for a declaration with the same conditions, so each one is
declared where the space declares the original (`units_1` inside its `num_layers` scope).

Every value is checked against the hyperparameter it replaces before any data is read, since a
value the builder cannot take would otherwise fail every trial one by one: its type (an `Int`
takes whole numbers, a `Choice` of strings takes a string), and for a hyperparameter that
others depend on (a layer count), its range, since outside it no layer's width would be active.
Values a `Choice` does not list are allowed: holding `dropout` at 0.25 is a reason to fix it.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

import keras_tuner

from zoo.errors import InvalidValueError, unknown_name
from zoo.values import plain_json


def fixed_space(
    space: keras_tuner.HyperParameters, fixed: Mapping[str, Any], entry: str
) -> keras_tuner.HyperParameters:
    """`space` (a search space sampled at its defaults) with the hyperparameters named in `fixed`
    held at their values, ready to give a keras-tuner tuner as `hyperparameters=`.

    Raises `InvalidValueError` (`UnknownNameError` for a name the space lacks) for a value its
    hyperparameter cannot take, one that can never be active, or when nothing is left to search.

    Example:
        >>> import keras_tuner
        >>> from zoo.tuning.fixed import fixed_space
        >>> hp = keras_tuner.HyperParameters()
        >>> _ = hp.Int("layers", 1, 2), hp.Float("rate", 0.1, 0.5)
        >>> with hp.conditional_scope("layers", [2]):
        ...     _ = hp.Choice("width_1", [16, 32])
        >>> held = fixed_space(hp, {"width_1": 24.0}, "my_entry")
        >>> [(p.name, type(p).__name__, p.default) for p in held.space]
        [('layers', 'Int', 1), ('rate', 'Float', 0.1), ('width_1', 'Fixed', 24)]
        >>> held.values  # width_1 is active only with two layers
        {'layers': 1, 'rate': 0.1}
    """
    if not isinstance(fixed, Mapping):
        raise InvalidValueError(
            f"fixed must map hyperparameter names to values (e.g. {{'dropout': 0.3}}), got "
            f"{type(fixed).__name__}."
        )
    declared = {parameter.name: parameter for parameter in space.space}
    values = {name: _checked(name, value, declared, entry) for name, value in fixed.items()}
    config = space.get_config()
    config["space"] = [
        {"class_name": "Fixed", "config": {
            "name": item["config"]["name"], "value": values[item["config"]["name"]],
            "conditions": item["config"].get("conditions", []),
        }} if item["config"]["name"] in values else item
        for item in config["space"]
    ]
    config["values"] = {}
    held = keras_tuner.HyperParameters.from_config(config)
    # Values at the defaults (fixed ones at theirs) for what is active once they hold: a fixed
    # num_layers=2 activates units_1. Declaration order puts each parent before its children.
    for parameter in held.space:
        if held.is_active(parameter):
            held.values[parameter.name] = parameter.default
    _check_reachable(held, values)
    if all(_is_fixed(p) for p in held.space if held.is_active(p)):
        raise InvalidValueError(
            f"fixed= holds every hyperparameter {entry} searches ({', '.join(sorted(values))}), "
            f"so there is nothing left to search: train it once with zoo.train({entry!r}, ...) "
            f"and these values as overrides, or leave one out of fixed."
        )
    return held


def _is_fixed(parameter: Any) -> bool:
    return type(parameter).__name__ == "Fixed"


def _checked(name: Any, value: Any, declared: dict[str, Any], entry: str) -> Any:
    """`value` as the type `declared[name]` takes (48.0 -> 48 for an Int), else raise."""
    if name not in declared:
        raise unknown_name(
            "hyperparameter", str(name), declared,
            hint=f"fixed= (--fix) takes the names of {entry}'s search space, as the trials table "
                 f"has them (Hyperband's tuner/* columns aside); a builder argument or recipe "
                 f"field it does not search is an override (zoo.tune(..., NAME=VALUE), --set).",
        )
    parameter = declared[name]
    kind = _kind(parameter)
    # NumPy values (a trials table read back holds them) as the numbers they print as, so a
    # float32 0.3 holds dropout at 0.3, as the workdir records such values.
    converted = _as_kind(plain_json(value), kind)
    if converted is None:
        layers = re.sub(r"_[0-9]+$", "", name)
        raise InvalidValueError(
            f"fixed[{name!r}] must be {_KIND_TEXT[kind]} ({_domain(parameter)}), got {value!r}."
            + (f" A tuple of layer widths is held one width at a time, by the names the trials "
               f"table has ({layers}_0=..., {layers}_1=...)." if isinstance(value, (tuple, list))
               else "")
        )
    depended_on = any(name == condition.name
                      for other in declared.values() for condition in other.conditions)
    allowed = _listed_values(parameter)
    if depended_on and allowed is not None and converted not in allowed:
        # A layer count outside its range leaves no width active (or one the space never makes).
        raise InvalidValueError(
            f"fixed[{name!r}] must be one of {allowed} (other hyperparameters depend on it), "
            f"got {value!r}."
        )
    return converted


def _listed_values(parameter: Any) -> list[Any] | None:
    """Every value a hyperparameter takes; None for a range without a step (a Float, an Int
    sampled on a log scale): keras-tuner gives those `values` too, but ten samples of the
    range, not its values."""
    if hasattr(parameter, "min_value") and parameter.step is None:
        return None
    return list(parameter.values)


_KINDS = {"Int": "int", "Float": "float", "Boolean": "bool"}  # Choice and Fixed: by their values
_KIND_TEXT = {"int": "a whole number", "float": "a finite number", "bool": "True or False",
              "str": "a string"}


def _kind(parameter: Any) -> str:
    """'int', 'float', 'bool' or 'str': what a hyperparameter's values are."""
    if type(parameter).__name__ in _KINDS:
        return _KINDS[type(parameter).__name__]
    values = getattr(parameter, "values", None) or [parameter.default]
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, numbers.Integral) for v in values):
        return "int"
    if all(isinstance(v, numbers.Real) for v in values):
        return "float"
    return "str"


def _as_kind(value: Any, kind: str) -> Any:
    """`value` as `kind`, or None when it is not one (bools are not numbers here)."""
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "str":
        return value if isinstance(value, str) else None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if not math.isfinite(value):
        return None
    if kind == "int":
        return int(value) if float(value).is_integer() else None
    return float(value)


def _domain(parameter: Any) -> str:
    values = _listed_values(parameter)
    if values is None:
        return (f"the search space's {parameter.name} ranges over {parameter.min_value}.."
                f"{parameter.max_value}")
    if len(values) > 8 and all(isinstance(v, numbers.Real) for v in values):
        return f"the search space's {parameter.name} takes {min(values):.4g}..{max(values):.4g}"
    return f"the search space's {parameter.name} takes {values}"


def _check_reachable(held: keras_tuner.HyperParameters, values: dict[str, Any]) -> None:
    """Raise for a fixed hyperparameter that its fixed parent keeps inactive in every trial."""
    for parameter in held.space:
        if parameter.name not in values:
            continue
        for condition in parameter.conditions:
            parent_value = values.get(condition.name)
            if parent_value is not None and parent_value not in condition.values:
                raise InvalidValueError(
                    f"fixed[{parameter.name!r}] would never be used: {parameter.name} is active "
                    f"only when {condition.name} is {_either(condition.values)}, but "
                    f"{condition.name} is fixed at {parent_value!r}. Fix {condition.name} to "
                    f"one of those, or leave {parameter.name} out."
                )


def _either(values: Any) -> str:
    values = [repr(v) for v in values]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
