"""What a registry entry is: frozen dataclasses that describe a model, its input and its recipe.

A `ModelSpec` is the one place that says everything about an entry: which family builder makes
the model and with which hyperparameters, what the input looks like, how many classes there are,
how it is trained (`Recipe`), what accuracy it aims for (`Reference`) and, for tuning, its search
space. Data pipelines, training, tuning and export all read the spec; none keeps its own copy.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from zoo import checks
from zoo.errors import UnknownNameError, ZooError, close_matches, first_line, unknown_name

# TextVectorization's named standardizations (a callable would not survive a spec's JSON).
STANDARDIZERS = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "nadam")
SCHEDULES = ("constant", "cosine", "exponential")
# What a zoo model logs (compile_model tracks accuracy; training always validates).
MONITORS = ("val_accuracy", "val_loss", "accuracy", "loss")
# Where `ModelSpec.build_model` leaves the spec on the model it builds (see `spec_of`).
_SPEC_ATTRIBUTE = "_zoo_spec"


@dataclass(frozen=True)
class Augmentation:
    """Training-only image augmentation, as Keras preprocessing layers in the tf.data pipeline.

    Attributes:
        rotation: largest rotation, a fraction of a full turn (`keras.layers.RandomRotation`).
        zoom: largest zoom in or out, a fraction of the image size.
        translation: largest shift, a fraction of height and width.
        horizontal_flip: mirror images at random; only where a mirror image keeps its class
            (CIFAR-10, not digits).

    Example:
        >>> import zoo
        >>> zoo.get_spec("cnn_mnist").input.augmentation.enabled
        True
        >>> zoo.Augmentation(translation=0.1, horizontal_flip=True).enabled
        True
    """

    rotation: float = 0.0
    zoom: float = 0.0
    translation: float = 0.0
    horizontal_flip: bool = False

    def __post_init__(self) -> None:
        checks.fraction("augmentation.rotation", self.rotation)
        checks.fraction("augmentation.zoom", self.zoom)
        checks.fraction("augmentation.translation", self.translation)
        object.__setattr__(self, "horizontal_flip",
                           checks.boolean("augmentation.horizontal_flip", self.horizontal_flip))

    @property
    def enabled(self) -> bool:
        return bool(self.rotation or self.zoom or self.translation or self.horizontal_flip)


@dataclass(frozen=True)
class ImageInput:
    """Images fed as uint8 pixels, scaled to [0, 1] and normalized inside the tf.data graph.

    Attributes:
        shape: (height, width, channels) of one example.
        mean, std: one number, or one per channel: the pipeline computes
            `(pixels / 255 - mean) / std`; the defaults (0, 1) keep pixels in [0, 1].
        augmentation: the training-only `Augmentation`.

    Example:
        >>> import zoo
        >>> zoo.ImageInput((32, 32, 3), mean=0.5, std=0.25).mean
        (0.5,)
    """

    kind: ClassVar[str] = "image"
    shape: tuple[int, int, int]
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    augmentation: Augmentation = Augmentation()

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", checks.image_shape(self.shape))
        for name in ("mean", "std"):  # one number is one value for every channel
            value = getattr(self, name)
            values = (value,) if isinstance(value, numbers.Real) else value
            if not isinstance(values, Sequence) or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values
            ):
                raise checks.InvalidValueError(
                    f"ImageInput {name} must be a number or one number per channel, got "
                    f"{value!r}."
                )
            object.__setattr__(self, name, tuple(float(v) for v in values))
        for stat in (self.mean, self.std):
            if len(stat) not in (1, self.shape[-1]):
                raise checks.InvalidValueError(
                    f"mean and std need 1 or {self.shape[-1]} values (one per channel), "
                    f"got {stat!r}."
                )
        for i, value in enumerate(self.std):
            checks.positive(f"std[{i}]", value)

    def model_kwargs(self) -> dict[str, Any]:
        return {"input_shape": self.shape}

    def with_shape(self, shape: Any) -> ImageInput:
        """This input for images of `shape`; per-channel mean and std that do not fit its channel
        count become one value each, their averages (a grayscale image is near the average of
        its RGB channels), so that `input_shape=(32, 32, 1)` on a CIFAR-10 entry builds.

        Example:
            >>> from zoo.spec import ImageInput
            >>> ImageInput((32, 32, 3), mean=(0.4, 0.5, 0.6), std=(0.2, 0.2, 0.2)).with_shape(
            ...     (32, 32, 1)).mean
            (0.5,)
        """
        shape = checks.image_shape(shape)
        stats = {}
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) not in (1, shape[-1]):
                stats[name] = (round(sum(values) / len(values), 6),)
        return dataclasses.replace(self, shape=shape, **stats)


@dataclass(frozen=True)
class TextInput:
    """Raw strings turned into token ids by a `TextVectorization` adapted on the training split.

    Attributes:
        vocab_size: ids in all, counting padding (0) and the out-of-vocabulary token (1).
        sequence_length: ids per example: longer texts are cut, shorter ones padded with 0.
        standardize: how text is cleaned before it is split into words, one of
            "lower_and_strip_punctuation", "lower", "strip_punctuation" (Keras'
            `TextVectorization` options).

    Example:
        >>> import zoo
        >>> zoo.get_spec("lstm_sst2").input.vocab_size > 1000
        True
    """

    kind: ClassVar[str] = "text"
    vocab_size: int = 20_000
    sequence_length: int = 200
    standardize: str = "lower_and_strip_punctuation"

    def __post_init__(self) -> None:
        if checks.positive_int("vocab_size", self.vocab_size) < 3:
            raise checks.InvalidValueError(
                f"vocab_size must be >= 3 (padding, out-of-vocabulary and one word), "
                f"got {self.vocab_size}."
            )
        checks.positive_int("sequence_length", self.sequence_length)
        checks.one_of("standardize", self.standardize, STANDARDIZERS)

    @property
    def shape(self) -> tuple[int]:
        return (self.sequence_length,)

    def model_kwargs(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "sequence_length": self.sequence_length}


@dataclass(frozen=True)
class Recipe:
    """How an entry is trained: optimizer, schedule, batch size, epochs and regularization.

    Every field is also a keyword override of `zoo.build`, `zoo.train` and `zoo.tune`
    (`--set FIELD=VALUE` on the command line).

    Attributes:
        optimizer: one of "adam", "adamw", "sgd", "rmsprop", "adagrad", "nadam".
        learning_rate: the peak learning rate.
        schedule: "constant", "cosine" (to 0 at the end of training) or "exponential" (to 1%
            of the peak at the end); it spans all training steps, after the warm-up.
        warmup_epochs: epochs of linear warm-up from 0 to the peak before the schedule.
        momentum: for sgd (Nesterov momentum when above 0) and rmsprop; the others ignore it.
        weight_decay: decoupled weight decay (adamw, sgd); 0 = none.
        clipnorm: clip each gradient to this norm; None = no clipping.
        label_smoothing: share of each target spread evenly over all classes (as Keras').
        ema_momentum: keep an exponential moving average of the weights (Keras' `use_ema`):
            validation, the best checkpoint and the final model use the average; None = plain
            weights. Runs too short for its window use a lower momentum
            (`zoo.training.compile.ema_momentum`).
        batch_size, epochs: as for `model.fit`.
        bucket_by_length: text only: batch examples of similar length together (less padding).
        resize_images: images only: fit the images of local sources (folders, image files,
            arrays) to the model's input shape as they are read, for training, evaluation and
            prediction alike: resized to its height and width (bilinear, antialiased), alpha
            dropped, grayscale <-> RGB converted (`zoo.data.resizing`). Off, images of another
            shape are refused with the shapes named. TFDS datasets are not resized.
        early_stopping_patience: epochs without improvement before training stops; None = no
            early stopping.
        monitor: what early stopping and the best checkpoint watch: "val_accuracy",
            "val_loss", "accuracy" or "loss".

    Example:
        >>> import zoo
        >>> recipe = zoo.get_spec("cnn_mnist").with_overrides(epochs=3, learning_rate=1e-3).recipe
        >>> recipe.optimizer, recipe.epochs, recipe.learning_rate
        ('adam', 3, 0.001)
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    warmup_epochs: int = 0
    momentum: float = 0.9
    weight_decay: float = 0.0
    clipnorm: float | None = None
    label_smoothing: float = 0.0
    ema_momentum: float | None = None
    batch_size: int = 128
    epochs: int = 10
    bucket_by_length: bool = False
    resize_images: bool = False
    early_stopping_patience: int | None = None
    monitor: str = "val_accuracy"

    def __post_init__(self) -> None:
        checks.one_of("optimizer", self.optimizer, OPTIMIZERS)
        checks.one_of("schedule", self.schedule, SCHEDULES)
        checks.positive("learning_rate", self.learning_rate)
        checks.non_negative_int("warmup_epochs", self.warmup_epochs)
        checks.fraction("momentum", self.momentum)
        checks.non_negative("weight_decay", self.weight_decay)
        if self.clipnorm is not None:
            checks.positive("clipnorm", self.clipnorm,
                            hint="None turns clipping off (command line: --set clipnorm=None).")
        checks.fraction("label_smoothing", self.label_smoothing)
        if self.ema_momentum is not None:
            checks.fraction("ema_momentum", self.ema_momentum, inclusive_low=False,
                            hint="0.99-0.999 are usual; None turns the average off.")
        checks.positive_int("batch_size", self.batch_size)
        checks.positive_int("epochs", self.epochs)
        checks.boolean("bucket_by_length", self.bucket_by_length)
        checks.boolean("resize_images", self.resize_images)
        if self.early_stopping_patience is not None:
            checks.positive_int(
                "early_stopping_patience", self.early_stopping_patience,
                hint="None turns early stopping off (command line: --set "
                     "early_stopping_patience=None).",
            )
        # A typo ("val_acc") would silently never save a best checkpoint nor stop early.
        checks.one_of("monitor", self.monitor, MONITORS)


@dataclass(frozen=True)
class Reference:
    """The published accuracy an entry aims for, and where it comes from.

    Attributes:
        accuracy: the published top-1 test accuracy, in [0, 1].
        source: the paper, tutorial or example the figure is taken from.
        note: how zoo's setting differs (data size, epochs...).
        measured: what zoo's recipe reached, on data no choice has seen; None = not measured.
        measured_on: the data and protocol of `measured` (benchmarks/bench_accuracy.py).

    Example:
        >>> import zoo
        >>> zoo.get_spec("cnn_mnist").reference.accuracy > 0.9
        True
    """

    accuracy: float
    source: str
    note: str = ""
    measured: float | None = None
    measured_on: str = ""

    def __post_init__(self) -> None:
        checks.fraction("reference accuracy", self.accuracy, inclusive_high=True)
        if self.measured is not None:
            checks.fraction("measured accuracy", self.measured, inclusive_high=True)


# Arguments that describe the data rather than the architecture: they live on `ModelSpec.input`
# and `ModelSpec.num_classes` so that the pipeline and the model can never disagree.
DATA_ARGUMENTS = ("input_shape", "vocab_size", "sequence_length", "num_classes")


@dataclass(frozen=True)
class ModelSpec:
    """Everything about one registry entry.

    Attributes:
        family: the model family ("mlp", "cnn", "lstm", "transformer", or one of your own).
        dataset: the TFDS name of the entry's dataset (see `zoo.data.catalog`); `zoo.train`
            loads it when no data is given (a dataset outside the catalog: its "train" split,
            validated on "test").
        input: `ImageInput(shape, ...)` or `TextInput(vocab_size, sequence_length, ...)`: what
            the model takes and how raw data is preprocessed and augmented for it.
        num_classes: the output's class count.
        builder: a function taking the data arguments (`input_shape`, or `vocab_size` and
            `sequence_length`; `num_classes`) and the hyperparameters as keywords, returning one
            `keras.Model` whose output is (batch, num_classes) probabilities.
        hyperparameters: the builder's keyword arguments for this entry; completed with the
            builder's own defaults, so it shows every knob.
        recipe: `Recipe`: optimizer, learning-rate schedule, batch size, epochs, regularization.
        reference: `Reference`: the published accuracy the entry aims for and what zoo measured.
        class_names: one name per class in id order (default: the dataset's, when known).
        search_space: `(hp, spec) -> overrides` for `zoo.tune`, sampling keras-tuner
            hyperparameters with the spec's own values as defaults (warned otherwise); None:
            not tunable. It may not sample the data arguments (`num_classes`, the input's
            shape, `vocab_size`, `sequence_length`): a search reads its data once.
        description: what the entry is (default: its spec function's docstring).
        name: the registered name, set by `register_model`.
        tags: free-form labels (`register_model(..., owner="acme")`).

    Example:
        >>> import zoo
        >>> spec = zoo.get_spec("cnn_mnist")
        >>> spec.family, spec.input.shape, spec.num_classes
        ('cnn', (28, 28, 1), 10)
        >>> spec.with_overrides(dropout=0.25).hyperparameters["dropout"]
        0.25
    """

    family: str  # "mlp", "cnn", "lstm", "transformer"
    dataset: str  # TFDS name of the dataset the entry is trained on (see zoo.data.catalog)
    input: ImageInput | TextInput
    num_classes: int
    builder: Callable[..., Any]  # the family builder: keyword arguments -> keras.Model
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)  # builder defaults for it
    recipe: Recipe = Recipe()
    reference: Reference | None = None
    class_names: tuple[str, ...] = ()
    # (hp, spec) -> dict of builder/recipe overrides sampled with keras_tuner.HyperParameters `hp`,
    # with `spec`'s own values as defaults, so that the defaults rebuild the entry (see zoo.tune).
    search_space: Callable[[Any, ModelSpec], Mapping[str, Any]] | None = None
    description: str = ""
    name: str = ""  # set by register_model
    tags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_fields(self)
        checks.num_classes(self.num_classes)
        if self.class_names:  # (names in the wrong form failed later, where training read them)
            object.__setattr__(self, "class_names", checks.class_names(self.class_names))
        if self.class_names and len(self.class_names) != self.num_classes:
            raise checks.InvalidValueError(
                f"class_names lists {len(self.class_names)} names but num_classes is "
                f"{self.num_classes}; give one name per class or none."
            )
        if self.recipe.resize_images and self.input.kind != "image":
            raise checks.InvalidValueError(
                f"resize_images=True fits images to the model's input shape, but "
                f"{self.name or self.family!r} reads {self.input.kind}; leave resize_images off."
            )
        if self.recipe.resize_images and self.input.shape[2] not in (1, 3):
            # Found here, not as the first image is read: images convert to gray or RGB only.
            raise checks.InvalidValueError(
                f"resize_images=True converts images to grayscale (1 channel) or RGB (3), but "
                f"{self.name or self.family!r} takes {self.input.shape[2]} channels "
                f"(input_shape={self.input.shape}); leave resize_images off, or take 1 or 3."
            )
        data_arguments = sorted(set(self.hyperparameters) & set(DATA_ARGUMENTS))
        if data_arguments:
            # model_kwargs() takes these from `input` and `num_classes`, so a value here would be
            # silently ignored.
            raise checks.InvalidValueError(
                f"hyperparameters must not set {', '.join(data_arguments)}: the data arguments "
                f"live on the spec; use num_classes=... and input=ImageInput(shape) or "
                f"TextInput(vocab_size, sequence_length) instead."
            )
        # Complete the hyperparameters with the builder's own defaults, so that the spec shows
        # every knob of the model and `build` with no overrides is exactly the registered model.
        defaults = _builder_defaults(self)
        merged = {**defaults, **self.hyperparameters}
        _check_hyperparameter_kinds(merged, defaults)
        object.__setattr__(self, "hyperparameters", types.MappingProxyType(merged))
        object.__setattr__(self, "tags", types.MappingProxyType(dict(self.tags)))

    @property
    def task(self) -> str:
        return f"{self.input.kind}_classification"

    @property
    def augments(self) -> bool:
        """Whether training on this entry augments its images unless told otherwise: an image
        entry whose `input.augmentation` changes something.

        Example:
            >>> import zoo
            >>> zoo.get_spec("cnn_mnist").augments, zoo.get_spec("lstm_sst2").augments
            (True, False)
        """
        return self.input.kind == "image" and self.input.augmentation.enabled

    def model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments that `builder` is called with."""
        return {
            **self.hyperparameters, **self.input.model_kwargs(), "num_classes": self.num_classes
        }

    def valid_overrides(self) -> list[str]:
        """Names accepted by `with_overrides`: builder arguments and recipe fields.

        Example:
            >>> import zoo
            >>> names = zoo.get_spec("cnn_mnist").valid_overrides()
            >>> {"filters", "dropout", "num_classes", "learning_rate", "epochs"} <= set(names)
            True
        """
        return sorted(
            set(self.hyperparameters)
            | set(self.input.model_kwargs())
            | {"num_classes"}
            | {f.name for f in dataclasses.fields(Recipe)}
        )

    def check_arguments(self, names: Iterable[str], function: Callable[..., Any]) -> None:
        """Refuse the first of `names` that is neither one of this spec's overrides nor one of
        `function`'s own arguments (`own_arguments`), naming `function`, the entry point that
        was called, and suggesting the closest of both kinds: a misspelt `work_dir=` of
        zoo.train is one of its own arguments, not an override.

        Example:
            >>> import zoo
            >>> zoo.get_spec("mlp_mnist").check_arguments(["work_dir"], zoo.train)
            Traceback (most recent call last):
            ...
            zoo.errors.UnknownNameError: unknown argument 'work_dir' of zoo.train. Did you mean: ...
        """
        keywords = own_arguments(function)
        overrides = self.valid_overrides()
        for name in names:
            if name not in overrides and name not in keywords:
                raise unknown_argument(name, function, keywords, overrides,
                                       entry=self.name or self.family)

    def with_overrides(self, **overrides: Any) -> ModelSpec:
        """Return a copy with builder arguments and recipe fields replaced.

        Data arguments (`input_shape`, `vocab_size`, `sequence_length`, `num_classes`) update the
        input spec, so the data pipeline built from the new spec matches the new model.

        Example:
            >>> import zoo
            >>> spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=5000, dropout=0.3)
            >>> spec.input.vocab_size, spec.hyperparameters["dropout"]
            (5000, 0.3)
        """
        if not overrides:
            return self
        valid = self.valid_overrides()
        for key in overrides:
            if key not in valid:
                raise unknown_name(
                    "override", key, valid, max_listed=None,  # list every valid one
                    hint=f"{self.name or self.family!r} takes its builder's arguments and the "
                    f"recipe's fields as keyword overrides.",
                )
        recipe_fields = {f.name for f in dataclasses.fields(Recipe)}
        recipe_changes = {k: v for k, v in overrides.items() if k in recipe_fields}
        input_changes = {k: v for k, v in overrides.items() if k in self.input.model_kwargs()}
        new_input = self.input
        if "input_shape" in input_changes:
            new_input = new_input.with_shape(input_changes.pop("input_shape"))
        model_changes = {k: v for k, v in overrides.items() if k in self.hyperparameters}
        num_classes = overrides.get("num_classes", self.num_classes)
        class_names = self.class_names if num_classes == self.num_classes else ()
        return dataclasses.replace(
            self,
            input=dataclasses.replace(new_input, **input_changes),
            num_classes=num_classes,
            class_names=class_names,
            hyperparameters={**self.hyperparameters, **model_changes},
            recipe=dataclasses.replace(self.recipe, **recipe_changes),
        )

    def overrides_from(self, base: ModelSpec) -> dict[str, Any]:
        """The overrides that make `base` into this spec: builder arguments and recipe fields
        whose values differ (`base.with_overrides(**them)` gives this spec's model and recipe).

        Example:
            >>> import zoo
            >>> base = zoo.get_spec("cnn_mnist")
            >>> base.with_overrides(dropout=0.25, epochs=3).overrides_from(base)
            {'dropout': 0.25, 'epochs': 3}
        """
        before = {**base.model_kwargs(), **dataclasses.asdict(base.recipe)}
        after = {**self.model_kwargs(), **dataclasses.asdict(self.recipe)}
        return {key: value for key, value in after.items() if before.get(key) != value}

    def build_model(self) -> Any:
        """Call the family builder with this spec's arguments (uncompiled `keras.Model`).

        The model keeps this spec (`spec_of(model)`), so that `zoo.train(model)` trains it with
        the overrides it was built with.

        Example:
            >>> import zoo
            >>> model = zoo.get_spec("mlp_mnist").with_overrides(units=(32,)).build_model()
            >>> model.name, model.output_shape, model.compiled
            ('mlp_mnist', (None, 10), False)
        """
        kwargs = self.model_kwargs()
        takes_name = "name" in inspect.signature(self.builder).parameters
        if self.name and takes_name:
            kwargs["name"] = self.name
        try:
            model = self.builder(**kwargs)
        except ZooError:
            raise
        except Exception as error:
            # A builder's own failure (a third party's bug, or Keras refusing a value): one line
            # on the command line that names the builder and its arguments; chained for Python.
            raise checks.InvalidValueError(
                f"{_builder_name(self.builder)} failed to build {self.name or 'the model'} with "
                f"{_short(dict(self.hyperparameters))}: "
                f"{type(error).__name__}: {first_line(error)}. Check these values (overrides, "
                f"--set), or the builder."
            ) from error
        _check_built(model, self)
        if self.name and model.name != self.name:
            # A reloaded model finds its entry by name (a workdir's model.keras, zoo.evaluate of
            # a loaded model), so a builder without a `name` argument, or one that ignores it,
            # still makes a model named after its entry.
            model.name = self.name
        keep_spec(model, self)
        return model

    def with_data_class_names(self, names: Sequence[str]) -> ModelSpec:
        """This spec labelled with the class names of the data it trains on, when that data
        named its classes (string labels, folder names); data numbered 0..n-1 keeps this spec's.

        Example:
            >>> import zoo
            >>> spec = zoo.get_spec("mlp_mnist").with_overrides(num_classes=2)
            >>> spec.with_data_class_names(["cat", "dog"]).class_names
            ('cat', 'dog')
            >>> spec.with_data_class_names(["0", "1"]).class_names
            ()
        """
        names = tuple(str(name) for name in names)
        numbered = tuple(str(index) for index in range(self.num_classes))
        if len(names) != self.num_classes or names == numbered:
            return self
        return dataclasses.replace(self, class_names=names)


def own_arguments(function: Callable[..., Any]) -> list[str]:
    """The arguments a caller of `function` can name (zoo.train's `workdir`, `seed`...), less
    its `**overrides`.

    Example:
        >>> import zoo
        >>> from zoo.spec import own_arguments
        >>> own_arguments(zoo.build)
        ['name', 'compile', 'weights', 'freeze_backbone']
    """
    parameters = inspect.signature(function).parameters.values()
    return [parameter.name for parameter in parameters
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]


# zoo.build's own arguments for starting a model, which zoo.train takes from the model built.
_BUILD_ARGUMENTS = ("weights", "freeze_backbone")


def unknown_argument(
    name: str, function: Callable[..., Any], keywords: Sequence[str], overrides: Sequence[str],
    *, entry: str,
) -> UnknownNameError:
    """The error for a keyword `name` that `function` (zoo.train, zoo.tune, zoo.build) takes
    neither as one of its own `keywords` nor as one of `entry`'s `overrides`: the closest names
    of both kinds are suggested, and both kinds are listed apart (a list of overrides alone
    left out `workdir` for a misspelt `work_dir`).

    Example:
        >>> import zoo
        >>> from zoo.spec import unknown_argument
        >>> error = unknown_argument("classnames", zoo.train, ["class_names", "seed"],
        ...                          ["num_classes", "units"], entry="mlp_mnist")
        >>> print(error)  # doctest: +ELLIPSIS
        unknown argument 'classnames' of zoo.train. Did you mean: 'class_names', ...? ...
    """
    called = f"{function.__module__.split('.')[0]}.{function.__name__}"
    matches = close_matches(name, [*keywords, *overrides])
    message = f"unknown argument {name!r} of {called}."
    if name in _BUILD_ARGUMENTS and called == "zoo.train":
        # Fine-tuning starts from a built model: the way there, rather than weight_decay.
        return UnknownNameError(
            f"{message} {name} is an argument of zoo.build: build the model to train first, "
            f"then train it: model = zoo.build({entry!r}, weights=PATH, freeze_backbone=True); "
            f"zoo.train(model, data, ...) (command line: zoo train {entry} --weights PATH "
            f"--freeze-backbone)."
        )
    if matches:
        message += " Did you mean: " + ", ".join(repr(match) for match in matches) + "?"
    message += (
        f" {called} takes its own arguments ({', '.join(keywords)}) and the overrides of "
        f"{entry} (builder arguments and recipe fields: {', '.join(sorted(overrides))})."
    )
    return UnknownNameError(message)


def keep_spec(model: Any, spec: ModelSpec) -> None:
    """Leave `spec` on `model`, where `spec_of` finds it: what the network was built and
    trained with, for `zoo.train(model)`, exports and evaluation."""
    setattr(model, _SPEC_ATTRIBUTE, spec)


def spec_of(model: Any) -> ModelSpec | None:
    """The spec `ModelSpec.build_model` built `model` from; None for other models (and for models
    reloaded from a file, which keeps only the network).

    Example:
        >>> from zoo.spec import spec_of
        >>> import zoo
        >>> spec_of(zoo.build("cnn_mnist", dropout=0.25, compile=False)).hyperparameters["dropout"]
        0.25
    """
    spec = getattr(model, _SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, ModelSpec) else None


def _builder_name(builder: Callable[..., Any]) -> str:
    return getattr(builder, "__name__", None) or type(builder).__name__


def _check_fields(spec: ModelSpec) -> None:
    """Refuse a spec whose fields are of the wrong kind, before anything reads them."""
    names_values = "a dict of names to values such as"

    def names_only(mapping: Mapping[Any, Any]) -> bool:
        return all(isinstance(key, str) for key in mapping)

    # (field, the kinds it may be, what to say it must be, a further check of the value)
    expected = (
        ("input", (ImageInput, TextInput),
         "zoo.ImageInput((height, width, channels)) or zoo.TextInput(vocab_size, ...)", None),
        ("recipe", (Recipe,), "a zoo.Recipe(...)", None),
        ("reference", (Reference, type(None)), "a zoo.Reference(...) or None", None),
        ("family", (str,), "a non-empty name such as 'cnn'", str.strip),
        ("dataset", (str,), "a TFDS name such as 'mnist' (see zoo.data.catalog)", None),
        ("description", (str,), "a text", None),
        ("hyperparameters", (Mapping,), f"{names_values} {{'units': (128,)}}", names_only),
        ("tags", (Mapping,), f"{names_values} {{'owner': 'acme'}}", names_only),
    )
    for name, kinds, description, valid in expected:
        value = getattr(spec, name)
        if not isinstance(value, kinds) or (valid is not None and not valid(value)):
            raise checks.InvalidValueError(
                f"ModelSpec {name} must be {description}, got {type(value).__name__} "
                f"{_short(value)}."
            )
    if not callable(spec.builder):
        raise checks.InvalidValueError(
            f"ModelSpec builder must be a function (keyword arguments -> keras.Model) such as "
            f"zoo.models.build_cnn, got {type(spec.builder).__name__} {_short(spec.builder)}."
        )
    if spec.search_space is not None and not callable(spec.search_space):
        raise checks.InvalidValueError(
            f"ModelSpec search_space must be a function (hp, spec) -> overrides, such as "
            f"zoo.models.SEARCH_SPACES['cnn'], got {type(spec.search_space).__name__} "
            f"{_short(spec.search_space)}."
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_built(model: Any, spec: ModelSpec) -> None:
    """Refuse what a builder returned unless it is one Keras model with one output of the
    spec's class count (and, for images, the spec's input shape)."""
    import keras

    builder = _builder_name(spec.builder)
    contract = (f"a builder returns one keras.Model whose input is {spec.input.kind} "
                f"batches and whose one output is (batch, num_classes) probabilities")
    if not isinstance(model, keras.Model):
        raise checks.InvalidValueError(
            f"{builder} returned {type(model).__name__}, not a keras.Model: {contract} "
            f"(keras.Model(inputs, outputs))."
        )
    outputs, inputs = getattr(model, "outputs", None), getattr(model, "inputs", None)
    if not outputs or not inputs:
        # A subclassed model has no input or output shapes until it is called: its export's
        # serving signature, a fine-tuning head's replacement and its parameter count in
        # zoo list all need them, and failed after a whole training run.
        raise checks.InvalidValueError(
            f"{builder} returned a subclassed {type(model).__name__} without inputs: {contract}, "
            f"built with the functional API so that zoo can export, fine-tune and count it. "
            f"Keep the subclass as a layer (a keras.layers.Layer, registered with "
            f"@keras.saving.register_keras_serializable) and return keras.Model(inputs, "
            f"YourLayer()(inputs)) with inputs = keras.Input(...)."
        )
    if len(outputs) != 1 or len(inputs) != 1:
        raise checks.InvalidValueError(
            f"{builder} returned a model with {len(inputs)} input(s) and {len(outputs)} "
            f"output(s): {contract}."
        )
    expected = (None, spec.num_classes)
    if tuple(outputs[0].shape) != expected:
        raise checks.InvalidValueError(
            f"{builder} returned a model whose output has shape {tuple(outputs[0].shape)}, "
            f"expected {expected}: {contract}; use its num_classes argument "
            f"(zoo.models.classifier_head(features, num_classes))."
        )
    if isinstance(spec.input, ImageInput):
        shape = tuple(inputs[0].shape[1:])
        if shape != spec.input.shape:
            raise checks.InvalidValueError(
                f"{builder} returned a model whose input has shape {shape}, expected "
                f"{spec.input.shape}: use its input_shape argument (keras.Input(input_shape))."
            )
    last = model.layers[-1] if model.layers else None
    if isinstance(last, keras.layers.Dense) and last.activation is keras.activations.linear:
        # zoo's loss and metrics read probabilities: logits would train on a wrong loss, silently.
        raise checks.InvalidValueError(
            f"{builder} returned a model ending in Dense layer {last.name!r} without an "
            f"activation (logits): {contract}. End it with activation='softmax', or with "
            f"zoo.models.classifier_head(features, num_classes)."
        )


def _check_hyperparameter_kinds(
    hyperparameters: Mapping[str, Any], defaults: Mapping[str, Any]
) -> None:
    """Refuse a hyperparameter of another kind than its builder default says it takes: a yes/no
    setting must be True or False (a builder reads it with `if`, so batch_norm="no" built batch
    normalization, silently), and an activation must be one Keras knows (a misspelt one failed
    inside Keras, in a message cut off before the value). A default of None says nothing."""
    for key, value in hyperparameters.items():
        default = defaults.get(key)
        if isinstance(default, bool):
            checks.boolean(key, value)
        elif (isinstance(default, str) and value != default
              and (key == "activation" or key.endswith("_activation"))):
            # The builder's own default is no news (the builder runs with it when nothing is
            # given), and checking it would import Keras, and so TensorFlow, for every entry a
            # listing registers.
            checks.activation(key, value)


def _builder_defaults(spec: ModelSpec) -> dict[str, Any]:
    """The builder's defaults for its hyperparameters (its keyword arguments other than the data
    arguments and `name`), after checking that it takes the data arguments and every given
    hyperparameter, and that each argument without a default is given."""
    accepted = inspect.signature(spec.builder).parameters
    any_keyword = any(parameter.kind == parameter.VAR_KEYWORD for parameter in accepted.values())
    builder = _builder_name(spec.builder)
    data_arguments = [*spec.input.model_kwargs(), "num_classes"]
    missing = [name for name in data_arguments if name not in accepted]
    if missing and not any_keyword:
        raise checks.InvalidValueError(
            f"{builder} does not take {', '.join(missing)}: a builder is called with the data "
            f"arguments as keywords ({', '.join(data_arguments)} for "
            f"{type(spec.input).__name__}) and its hyperparameters; name its arguments so."
        )
    parameters = {
        key: parameter
        for key, parameter in accepted.items()
        if key not in DATA_ARGUMENTS
        and key != "name"
        and parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    }
    unknown = set(spec.hyperparameters) - set(parameters)
    if unknown and not any_keyword:
        raise unknown_name("hyperparameter", sorted(unknown)[0], parameters,
                           hint=f"({builder} takes these besides the data arguments)")
    defaults = {key: parameter.default for key, parameter in parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    required = sorted(set(parameters) - set(defaults) - set(spec.hyperparameters))
    if required:
        raise checks.InvalidValueError(
            f"{builder} needs a value for {', '.join(required)} (no default): give it in "
            f"hyperparameters={{{required[0]!r}: ...}}."
        )
    return defaults
