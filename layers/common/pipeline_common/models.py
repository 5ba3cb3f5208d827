"""The records that cross a boundary between stages, the bucket and the CLI, in one place.

- ``DatasetSpec``: what a dataset's CSV holds and how to learn from it (``specs/<dataset>.yaml``).
- ``FittedTransform``: everything the preparation learned from the training rows, applied unchanged
  to the test rows and later to files sent for scoring.
- ``SplitManifest``: the commit marker that starts training, naming the champion it is compared with.
- ``ModelVersion``: a model package version of the registry, with what scoring needs to use it.
- ``GateVerdict``: why a version was approved or rejected.
- ``PredictionsManifest``: what scored a file.
- ``ErrorRecord``: why a run failed.

Validation errors name the field (``columns.Age.min: Input should be a valid number``), so
a person editing a spec knows where to look.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .layout import part_index

ProblemType = Literal["binary", "multiclass", "regression"]
ColumnType = Literal["numeric", "categorical", "boolean", "text", "id", "ignore"]
# What "missing" is spelled as in a CSV; an empty field is always missing.
DEFAULT_MISSING = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none", "n/a", "#N/A"]
DEFAULT_MAX_LEVELS = 20
# The objectives each problem type may use: evaluation reads probabilities for classes, numbers for regression.
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "binary": ("binary:logistic",),
    "multiclass": ("multi:softprob",),
    "regression": ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:squaredlogerror",
                   "count:poisson", "reg:tweedie", "reg:gamma"),
}
BOOLEAN_WORDS = {"true": 1, "false": 0, "yes": 1, "no": 0, "y": 1, "n": 0, "t": 1, "f": 0, "1": 1, "0": 0}


class SpecError(ValueError):
    """A spec that cannot be used, with a message that names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- dataset spec ---------------------------------------------------------------------------------
class ColumnSpec(_Strict):
    type: ColumnType
    required: bool = True  # a file without it is refused (features, ids and sources of derived features)
    allowed: list[str] | None = None  # categorical: the only values accepted
    min: float | None = None  # numeric: smallest accepted value
    max: float | None = None
    case: Literal["preserve", "lower", "upper"] = "preserve"  # categorical: normalise before checking and encoding
    # numeric: median | mean | zero | none (left missing: XGBoost routes missing values itself);
    # categorical and boolean: mode | missing (a level of its own). A number or a string fills that value.
    fill: str | float | None = None
    max_levels: int | None = Field(default=None, ge=1, le=1000)  # categorical: one-hot cap; rarer levels become "other"
    min_count: int = Field(default=1, ge=1)  # categorical: levels seen fewer times in the training rows become "other"
    description: str | None = None

    @field_validator("allowed", mode="before")
    @classmethod
    def _allowed_as_text(cls, value):
        return [str(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _fits_its_type(self) -> "ColumnSpec":
        if self.type != "numeric" and (self.min is not None or self.max is not None):
            raise ValueError(f"min and max apply to numeric columns, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        if self.allowed is not None and self.type != "categorical":
            raise ValueError(f"allowed applies to categorical columns, not {self.type}")
        if self.type == "numeric" and isinstance(self.fill, str) and self.fill not in ("median", "mean", "zero", "none"):
            raise ValueError(f"fill of a numeric column is median, mean, zero, none or a number, not {self.fill!r}")
        if self.type in ("text", "id", "ignore") and self.fill is not None:
            raise ValueError(f"a {self.type} column is not a feature: it has no fill")
        return self

    @property
    def is_feature(self) -> bool:
        return self.type in ("numeric", "categorical", "boolean")


class _Derived(_Strict):
    name: str

    @field_validator("name")
    @classmethod
    def _name_is_plain(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}", value):
            raise ValueError("a derived feature's name is letters, digits, _, space, . or -, starting with a letter or _")
        return value

    def sources(self) -> list[str]:
        raise NotImplementedError


class RegexExtract(_Derived):
    """A category taken from a text column: the first group of a regular expression (e.g. the title in a name)."""

    kind: Literal["regex_extract"]
    column: str
    pattern: str = Field(max_length=200)
    case: Literal["preserve", "lower", "upper"] = "preserve"
    max_levels: int | None = Field(default=None, ge=1, le=1000)
    min_count: int = Field(default=1, ge=1)

    @field_validator("pattern")
    @classmethod
    def _compiles_with_a_group(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as err:
            raise ValueError(f"not a regular expression: {err}") from None
        if compiled.groups < 1:
            raise ValueError("the pattern needs a group, e.g. ',\\s*([^.]+)\\.'")
        return value

    def sources(self) -> list[str]:
        return [self.column]


class SumOf(_Derived):
    """The sum of numeric columns plus a constant (e.g. family size = siblings + parents + 1)."""

    kind: Literal["sum"]
    columns: list[str] = Field(min_length=1)
    add: float = 0.0

    def sources(self) -> list[str]:
        return list(self.columns)


class RatioOf(_Derived):
    """One numeric column divided by another; missing where the denominator is 0 or missing."""

    kind: Literal["ratio"]
    numerator: str
    denominator: str

    def sources(self) -> list[str]:
        return [self.numerator, self.denominator]


class IsMissing(_Derived):
    """1 where a column is missing (or, with present: true, where it is present), else 0."""

    kind: Literal["is_missing"]
    column: str
    present: bool = False

    def sources(self) -> list[str]:
        return [self.column]


DerivedFeature = Annotated[Union[RegexExtract, SumOf, RatioOf, IsMissing], Field(discriminator="kind")]
GateMetric = Literal["accuracy", "roc_auc", "f1", "log_loss", "macro_f1", "weighted_f1", "rmse", "mae", "r2"]
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


class GateRule(_Strict):
    metric: GateMetric
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> "GateRule":
        if self.min is None and self.max is None:
            raise ValueError("a gate rule needs min or max")
        return self


class Gate(_Strict):
    """When a new model version may replace the approved one (used once the registry is in place)."""

    metric: GateMetric | None = None  # compared with the champion; default by problem type
    tolerance: float = Field(default=0.0, ge=0)
    rules: list[GateRule] = []


class DatasetSpec(_Strict):
    name: str = Field(min_length=1, max_length=200)
    target: str = Field(min_length=1)
    problem_type: ProblemType | None = None  # inferred from the target's values when absent
    positive_class: str | None = None  # binary: inferred for 0/1, false/true, no/yes
    id_columns: list[str] = []
    columns: dict[str, ColumnSpec] = {}
    derived: list[DerivedFeature] = []
    missing_values: list[str] = Field(default_factory=lambda: list(DEFAULT_MISSING))
    max_levels: int = Field(default=DEFAULT_MAX_LEVELS, ge=1, le=1000)  # default one-hot cap of categorical columns
    min_rows: int = Field(default=10, ge=4)
    hyperparameters: dict[str, str | int | float] = {}
    gate: Gate = Gate()
    description: str | None = None

    @field_validator("positive_class", mode="before")
    @classmethod
    def _class_as_text(cls, value):
        return None if value is None else str(value)

    @model_validator(mode="after")
    def _consistent(self) -> "DatasetSpec":
        target = self.columns.get(self.target)
        if target is not None and target.type in ("id", "ignore", "text"):
            raise ValueError(f"target: column {self.target} is declared {target.type}; the target is numeric, categorical or boolean")
        if self.target in self.id_columns:
            raise ValueError(f"id_columns: the target {self.target} cannot be an id column")
        for column in self.id_columns:
            declared = self.columns.get(column)
            if declared is not None and declared.type != "id":
                raise ValueError(f"id_columns: {column} is declared {declared.type} in columns")
        names = set(self.columns)
        seen: set[str] = set()
        for index, feature in enumerate(self.derived):
            where = f"derived.{index}"
            if feature.name in names or feature.name in seen:
                raise ValueError(f"{where}.name: {feature.name!r} is already a column or derived feature")
            seen.add(feature.name)
            for source in feature.sources():
                if source == self.target:
                    raise ValueError(f"{where}: {feature.name} is computed from the target {source}: that leaks the answer")
                declared = self.columns.get(source)
                if declared is None:
                    raise ValueError(f"{where}: source column {source!r} is not in columns")
                numeric_only = isinstance(feature, (SumOf, RatioOf))
                if numeric_only and declared.type != "numeric":
                    raise ValueError(f"{where}: {feature.kind} needs numeric columns; {source} is {declared.type}")
                if isinstance(feature, RegexExtract) and declared.type not in ("text", "categorical", "id"):
                    raise ValueError(f"{where}: regex_extract reads a text column; {source} is {declared.type}")
        if "objective" in self.hyperparameters and self.problem_type:
            allowed = OBJECTIVES[self.problem_type]
            if self.hyperparameters["objective"] not in allowed:
                raise ValueError(f"hyperparameters.objective: {self.problem_type} uses one of {', '.join(allowed)}")
        if "num_class" in self.hyperparameters:
            raise ValueError("hyperparameters.num_class: set from the target's classes, not by hand")
        return self

    # -- what the preparation reads -------------------------------------------------------------
    def column(self, name: str) -> ColumnSpec | None:
        return self.columns.get(name)

    def feature_columns(self) -> list[str]:
        return [name for name, col in self.columns.items() if col.is_feature and name != self.target]

    def row_id_columns(self) -> list[str]:
        return [*self.id_columns, *(n for n, c in self.columns.items() if c.type == "id" and n not in self.id_columns)]

    def required_columns(self, with_target: bool = True) -> list[str]:
        """Columns a file must have: required features, ids and derived sources, and the target for training."""
        needed = [n for n, c in self.columns.items() if c.required and c.type not in ("ignore",) and n != self.target]
        needed += [s for f in self.derived for s in f.sources() if s not in needed]
        return ([self.target] if with_target else []) + needed

    def objective(self) -> str:
        if self.problem_type is None:
            raise SpecError("problem_type is not known yet")
        return str(self.hyperparameters.get("objective", OBJECTIVES[self.problem_type][0]))


def describe_validation_error(err: ValidationError, prefix: str = "spec") -> str:
    """One line per problem, each naming the field: 'columns.Age.min: Input should be a valid number'."""
    lines = []
    for problem in err.errors():
        location = ".".join(str(part) for part in problem["loc"] if not str(part).startswith("function-after"))
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{prefix} field {location}: {message}" if location else f"{prefix}: {message}")
    return "; ".join(lines)


def parse_spec(document: dict, source: str = "spec") -> DatasetSpec:
    """A spec from its YAML or JSON document, or SpecError naming every bad field."""
    if not isinstance(document, dict):
        raise SpecError(f"{source} must be a mapping of fields (name, target, columns, ...), got {type(document).__name__}")
    try:
        return DatasetSpec.model_validate(document)
    except ValidationError as err:
        raise SpecError(describe_validation_error(err, source)) from None


def load_spec_text(text: str, source: str = "spec") -> DatasetSpec:
    import yaml  # the common layer ships PyYAML; imported late because most stages only read JSON

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SpecError(f"{source} is not valid YAML: {err}") from None
    return parse_spec(document, source)


def dump_spec(spec: DatasetSpec) -> str:
    import yaml

    return yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True)


# -- fitted transform -----------------------------------------------------------------------------
class FittedColumn(_Strict):
    """What was learned about one input or derived column from the training rows."""

    name: str
    kind: Literal["numeric", "categorical", "boolean"]
    fill: float | str | None = None  # the value missing entries get (None: left missing)
    levels: list[str] = []  # categorical: levels with a column of their own, in output order
    other: bool = False  # categorical: an "other" column for every level not kept (and unseen ones)
    missing_level: bool = False  # categorical: missing values are a level of their own
    derived: DerivedFeature | None = None  # how to compute it, when it is a derived feature


class FittedTransform(_Strict):
    """Applied unchanged to test rows and to every file scored with this model."""

    dataset: str
    target: str
    problem_type: ProblemType
    classes: list[str] = []  # classification: label index i is classes[i]
    positive_class: str | None = None
    row_id: str | None = None  # the input column used as row id, if any
    columns: list[FittedColumn]
    features: list[str]  # the model's input columns, in order
    feature_sources: dict[str, str]  # model column -> input or derived column it comes from
    fitted_on_rows: int


# -- markers and records --------------------------------------------------------------------------
class FileEntry(_Strict):
    key: str
    bytes: int
    sha256: str
    rows: int | None = None


class ModelVersion(_Strict):
    """A version in the dataset's model package group, and where its frozen spec and fitted transform are."""

    arn: str
    group: str
    version: int
    status: Literal["Approved", "Rejected", "PendingManualApproval"]
    created_at: str
    run_id: str
    dataset: str
    image: str
    model_data: str
    spec_uri: str
    transform_uri: str
    metrics_uri: str | None = None
    gate_metric: str | None = None
    gate_score: float | None = None
    description: str | None = None


class Champion(_Strict):
    """The approved version a new model is compared with, scored on the same test rows."""

    version: ModelVersion
    comparable: bool  # False: it cannot score these rows (its spec needs a column this file lacks, say)
    reason: str | None = None


class SplitManifest(_Strict):
    """Written last by preparation; its arrival starts training."""

    run_id: str
    stage: str
    created_at: str
    dataset: str
    source: dict
    problem_type: ProblemType
    target: str
    objective: str
    classes: list[str] = []
    positive_class: str | None = None
    features: list[str]
    feature_sources: dict[str, str]
    hyperparameters: dict[str, str] = {}
    n_train: int
    n_test: int
    train_label_counts: dict[str, int] = {}
    test_label_counts: dict[str, int] = {}
    test_fraction: float
    seed: int
    spec_key: str
    transform_key: str
    profile_key: str
    files: dict[str, FileEntry]
    champion: Champion | None = None

    def parts(self, role: str) -> list[int]:
        """The part indexes of one role of ``files`` ("train", "test", "labels", "champion"), in order."""
        return sorted(part_index(entry.key) for name, entry in self.files.items() if name.startswith(f"{role}-"))


class GateVerdict(_Strict):
    """The quality gate's decision about a new version: the rules of the spec, then the champion on the same rows."""

    status: Literal["Approved", "Rejected", "PendingManualApproval"]
    recommendation: Literal["Approved", "Rejected"]  # what the rules and the comparison say (manual mode waits for a person)
    mode: Literal["auto", "manual"]
    metric: str
    challenger: float | None
    champion: float | None = None
    champion_version: int | None = None
    tolerance: float = 0.0
    reasons: list[str]


class ScoringManifest(_Strict):
    """Written before a scoring run's transform starts: the upload, the version scoring it, the encoded parts."""

    run_id: str
    dataset: str
    source: dict
    created_at: str
    rows: int
    model_version: ModelVersion
    problem_type: ProblemType
    classes: list[str] = []
    files: dict[str, FileEntry]


class PredictionsManifest(_Strict):
    """Written after predictions/<dataset>/<run>/<file>.csv: the file it scored and the model version that did."""

    run_id: str
    dataset: str
    source: dict
    created_at: str
    predictions_key: str
    rows: int
    columns: list[str]
    model_version: ModelVersion


class ErrorRecord(_Strict):
    run_id: str
    stage: str
    reason: str
    details: dict = {}
    source: dict | None = None
    at: str


class ShardPlan(_Strict):
    """How many parts the training and test rows are cut into: at least one per instance, none above shard_bytes."""

    training_instances: int = Field(1, ge=1)
    transform_instances: int = Field(1, ge=1)
    shard_bytes: int = Field(256 * 2**20, ge=1)


class PreprocessTask(_Strict):
    """What preparing one upload needs, in the function or on its Processing job (task.json)."""

    run_id: str
    source: dict
    spec: dict  # the dataset's spec as loaded (DatasetSpec fields)
    spec_origin: dict
    test_fraction: float
    seed: int
    sharding: ShardPlan
    champion: ModelVersion | None = None  # the approved version to encode the test rows for
    champion_spec: dict | None = None  # its frozen spec and fitted transform, read by the function
    champion_transform: dict | None = None
