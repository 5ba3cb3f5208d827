"""Dataset specs: validated with errors that name the field, drafted from a CSV, shipped for Titanic."""

from __future__ import annotations

import pytest

from pipeline_common.errors import InputRejected
from pipeline_common.models import SpecError, dump_spec, load_spec_text, parse_spec
from tabular.infer import infer
from tests.datasets import iris_frame, titanic_spec

MINIMAL = {"name": "d", "target": "y", "columns": {"x": {"type": "numeric"}}}


def spec_with(**changes) -> dict:
    return {**MINIMAL, **changes}


def test_the_shipped_titanic_spec_is_valid_and_uses_honest_features():
    spec = titanic_spec()
    assert (spec.name, spec.target, spec.problem_type, spec.positive_class) == ("titanic", "Survived", "binary", "1")
    assert {d.name for d in spec.derived} == {"Title", "FamilySize", "CabinKnown"}
    assert spec.columns["Ticket"].type == "ignore" and spec.columns["PassengerId"].type == "id"
    assert spec.objective() == "binary:logistic"
    assert load_spec_text(dump_spec(spec)) == spec  # what `mlpipe run --stack` uploads reads back the same


@pytest.mark.parametrize(("document", "field", "says"), [
    (spec_with(columns={"Age": {"type": "numeric", "min": "old"}}), "columns.Age.min", "valid number"),
    (spec_with(columns={"Age": {"type": "number"}}), "columns.Age.type", "numeric"),
    (spec_with(columns={"Age": {"type": "numeric", "min": 5, "max": 1}}), "columns.Age", "larger than max"),
    (spec_with(columns={"Sex": {"type": "categorical", "min": 0}}), "columns.Sex", "apply to numeric"),
    (spec_with(columns={"Age": {"type": "numeric", "fill": "mode"}}), "columns.Age", "median, mean, zero"),
    (spec_with(columns={"Age": {"type": "numeric", "colour": "red"}}), "columns.Age.colour", "Extra inputs"),
    (spec_with(problem_type="ranking"), "problem_type", "binary"),
    ({"name": "d", "columns": {}}, "target", "required"),
    (spec_with(derived=[{"name": "T", "kind": "regex_extract", "column": "x", "pattern": "("}]), "derived.0.regex_extract.pattern",
     "not a regular expression"),
    (spec_with(derived=[{"name": "T", "kind": "regex_extract", "column": "x", "pattern": "abc"}]), "derived.0.regex_extract.pattern",
     "needs a group"),
    (spec_with(derived=[{"name": "T", "kind": "teleport", "column": "x"}]), "derived.0", "does not match"),
    (spec_with(derived=[{"name": "S", "kind": "sum", "columns": ["nope"]}]), "spec", "not in columns"),
    (spec_with(derived=[{"name": "S", "kind": "sum", "columns": ["y"]}]), "spec", "leaks the answer"),
    (spec_with(problem_type="binary", hyperparameters={"objective": "reg:squarederror"}), "spec", "binary uses one of"),
    (spec_with(hyperparameters={"num_class": 3}), "spec", "num_class"),
])
def test_a_bad_spec_is_refused_naming_the_field(document, field, says):
    with pytest.raises(SpecError) as caught:
        parse_spec(document, "spec")
    message = str(caught.value)
    assert field in message and says in message, message


def test_yaml_errors_and_non_mappings_are_refused():
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec_text("name: [unclosed")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec_text("- just\n- a list\n")


def test_required_columns_cover_features_ids_and_derived_sources_but_not_optional_ones():
    spec = titanic_spec()
    required = spec.required_columns()
    assert required[0] == "Survived"
    assert {"Pclass", "Sex", "Age", "Name", "PassengerId", "SibSp", "Parch"} <= set(required)
    assert "Cabin" in required  # optional itself, but CabinKnown is derived from it
    assert "Ticket" not in required
    assert "Survived" not in spec.required_columns(with_target=False)


# -- mlpipe spec infer -------------------------------------------------------------------------------
def test_the_titanic_draft_finds_types_ids_and_the_positive_class(titanic_bytes):
    draft = infer(titanic_bytes, "Survived", "titanic")
    spec = draft.spec
    assert spec.problem_type == "binary" and spec.positive_class == "1"
    types = {name: column.type for name, column in spec.columns.items()}
    assert types["PassengerId"] == "id" and spec.id_columns == ["PassengerId"]
    assert types["Name"] == "id"  # unique text per row
    assert types["Age"] == types["Fare"] == types["Pclass"] == "numeric"
    assert types["Sex"] == types["Embarked"] == "categorical"
    assert types["Cabin"] == types["Ticket"] == "text"
    assert "missing 19.9%" in draft.notes["Age"] and "missing 77.1%" in draft.notes["Cabin"]
    text = draft.yaml("titanic.csv")
    assert "# missing" not in text.splitlines()[0]
    assert load_spec_text(text) == spec  # comments aside, the YAML is the spec


def test_a_row_number_column_and_a_constant_column_are_dropped():
    frame = iris_frame().assign(source="lab 1")
    draft = infer(frame.to_csv().encode(), "species", "iris")  # to_csv writes the unnamed row-number column
    assert draft.spec.columns[""].type == "ignore" and "row number" in draft.notes[""]
    assert draft.spec.columns["source"].type == "ignore" and "constant" in draft.notes["source"]
    assert draft.spec.problem_type == "multiclass" and draft.spec.positive_class is None
    assert load_spec_text(draft.yaml("iris.csv")) == draft.spec


def test_problem_type_follows_the_target():
    regression = "x,y\n" + "".join(f"{i},{i * 1.37}\n" for i in range(40))
    assert infer(regression.encode(), "y", "d").spec.problem_type == "regression"
    three = "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(40))
    assert infer(three.encode(), "y", "d").spec.problem_type == "multiclass"
    words = "x,y\n" + "".join(f"{i},{'yes' if i % 3 else 'no'}\n" for i in range(40))
    assert infer(words.encode(), "y", "d").spec.positive_class == "yes"
    sick = "x,y\n" + "".join(f"{i},{'sick' if i % 4 == 0 else 'well'}\n" for i in range(40))
    draft = infer(sick.encode(), "y", "d")
    assert draft.spec.positive_class == "sick" and "check it" in draft.notes["y"]  # the rarer class, flagged
    assert infer(three.encode(), "y", "d", problem_type="regression").spec.problem_type == "regression"


def test_an_unknown_target_is_named():
    with pytest.raises(InputRejected, match="'Lived' is not a column"):
        infer(b"a,b\n1,2\n", "Lived", "d")
