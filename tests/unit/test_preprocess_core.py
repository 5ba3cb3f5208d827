import io
import math

import pandas as pd
import pytest

import preprocess_core as core
from pipeline_common.errors import InputRejected

HEADER = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"


def rows(n_per_class: int = 5) -> str:
    lines = []
    for i in range(n_per_class * 2):
        label = i % 2
        lines.append(f'{i + 1},{label},{1 + i % 3},"Name, {i}",{"female" if label else "male"},{20 + i},0,0,T{i},{10.0 + i},,S')
    return "\n".join(lines) + "\n"


def small_csv(extra: str = "", n_per_class: int = 5) -> bytes:
    return (HEADER + rows(n_per_class) + extra).encode()


def test_titanic_is_processed_with_expected_columns_and_no_missing_values(titanic_bytes):
    table_bytes, profile = core.preprocess(titanic_bytes)
    table = pd.read_csv(io.BytesIO(table_bytes))
    assert list(table.columns) == ["row_id", "Survived", *core.FEATURES]
    assert len(table) == 891 and profile["rows"] == 891
    assert not table.isna().any().any()
    assert profile["missing_before_imputation"]["Age"] == 177
    assert profile["missing_before_imputation"]["Embarked"] == 2
    assert profile["label_counts"] == {"0": 549, "1": 342}
    for dropped in ("Cabin", "Name", "Ticket", "PassengerId"):
        assert dropped not in table.columns and dropped in profile["columns_dropped"]


def test_numeric_columns_are_median_imputed_and_categoricals_mode_imputed():
    csv = HEADER + (
        "1,0,3,a,male,20,0,0,t,10,,S\n"
        "2,1,1,b,female,,1,0,t,30,,\n"
        "3,0,3,c,male,40,0,0,t,,,S\n"
        "4,1,2,d,,60,0,2,t,50,,C\n"
    ) + rows(4)
    table, profile = core.transform(core.validate(core.parse_csv(csv)))
    ages = pd.concat([pd.Series([20.0, 40.0, 60.0]), pd.Series([20.0 + i for i in range(8)])])
    assert profile["imputed_with"]["Age"] == ages.median()
    assert table.loc[1, "Age"] == ages.median()
    assert profile["imputed_with"]["Embarked"] == "S"  # the most frequent port
    assert (table.loc[1, "Embarked_S"], table.loc[1, "Embarked_Q"]) == (1, 0)
    assert profile["imputed_with"]["Sex"] == "male"
    assert table.loc[3, "Sex"] == 0  # imputed with the mode, male = 0
    assert profile["missing_before_imputation"] == {**{c: 0 for c in core.REQUIRED}, "Age": 1, "Fare": 1, "Sex": 1, "Embarked": 1}


def test_sex_and_embarked_encoding():
    csv = HEADER + "1,0,1,a,male,1,0,0,t,1,,C\n2,1,1,b,female,1,0,0,t,1,,Q\n3,1,1,c,FEMALE,1,0,0,t,1,,s\n" + rows(4)
    table, _ = core.transform(core.validate(core.parse_csv(csv)))
    assert table.loc[:2, "Sex"].tolist() == [0, 1, 1]
    # C is the base level: both indicators 0
    assert table.loc[:2, ["Embarked_Q", "Embarked_S"]].values.tolist() == [[0, 0], [1, 0], [0, 1]]
    assert table["Embarked_Q"].dtype.kind == "i" and table["Sex"].dtype.kind == "i"


def test_profile_statistics_match_pandas(titanic_bytes):
    table_bytes, profile = core.preprocess(titanic_bytes)
    table = pd.read_csv(io.BytesIO(table_bytes)).drop(columns="row_id").astype(float)
    assert profile["describe"]["Fare"]["mean"] == pytest.approx(table["Fare"].mean())
    assert profile["skewness"]["Fare"] == pytest.approx(table["Fare"].skew())
    assert profile["kurtosis"]["Age"] == pytest.approx(table["Age"].kurt())
    assert profile["correlations"]["Sex"]["Survived"] == pytest.approx(table["Sex"].corr(table["Survived"]))
    assert profile["correlations"]["Sex"]["Survived"] > 0.5  # women survived far more often


def test_row_id_falls_back_to_line_numbers_without_passenger_id():
    csv = "Survived,Pclass,Sex,Age,SibSp,Parch,Fare,Embarked\n" + "\n".join(
        f"{i % 2},1,male,30,0,0,5,S" for i in range(10)
    )
    table, _ = core.transform(core.validate(core.parse_csv(csv)))
    assert table["row_id"].tolist() == [str(i) for i in range(1, 11)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "file is empty"),
        (b"   \n", "file is empty"),
        (HEADER.encode(), "header but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (HEADER.replace(",", ";").encode() + rows().replace(",", ";").encode(), "semicolon-separated"),
        (HEADER.replace(",", "\t").encode() + rows().replace(",", "\t").encode(), "tab-separated"),
        (HEADER.replace("Survived,", "").encode() + b"1,3,a,male,1,0,0,t,1,,S\n", "missing: Survived"),
        (small_csv("99,2,1,x,male,1,0,0,t,1,,S\n"), "Survived must hold only 0 or 1"),
        (small_csv("99,1,1,x,male,young,0,0,t,1,,S\n"), "column Age must be numeric"),
        (small_csv("99,1,1,x,robot,1,0,0,t,1,,S\n"), "Sex must be male or female"),
        (small_csv("99,1,1,x,male,1,0,0,t,1,,X\n"), "Embarked must be C, Q or S"),
        ((HEADER + "".join(f"{i},1,1,n,male,1,0,0,t,1,,S\n" for i in range(20))).encode(), "single class"),
        (small_csv(n_per_class=1), "too few rows to split"),
        ("Survived,Pclass,Sex,Age,SibSp,Parch,Fare,Embarked\n1,1,femme,30,0,0,5,S\n".encode("utf-16"), "binary"),
        (HEADER.encode() + "1,1,1,Zoë,female,1,0,0,t,1,,S\n".encode("latin-1"), "not UTF-8"),
        (b"\xef\xbb\xbf \n", "file is empty"),
        (small_csv().replace(b",S\n", b",\n"), "without any value: Embarked"),
        ((HEADER + "".join(f"{i},{i % 2},1,n,male,,0,0,t,1,,S\n" for i in range(12))).encode(), "without any value: Age"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(body, message):
    with pytest.raises(InputRejected, match=message):
        core.preprocess(body)


def test_rejection_names_the_offending_line_and_value():
    with pytest.raises(InputRejected) as caught:
        core.preprocess(small_csv("99,1,1,x,male,young,0,0,t,1,,S\n"))
    assert caught.value.details["column"] == "Age"
    assert caught.value.details["offending"] == [{"line": 12, "value": "young"}]


def test_missing_columns_are_all_listed():
    with pytest.raises(InputRejected) as caught:
        core.preprocess(b"Survived,Pclass\n1,1\n")
    assert caught.value.details["missing_columns"] == ["Age", "SibSp", "Parch", "Fare", "Sex", "Embarked"]
    assert "Age, SibSp, Parch, Fare, Sex, Embarked" in caught.value.reason


def test_utf8_with_bom_and_accents_is_accepted():
    body = ("\ufeff" + HEADER + rows().replace('"Name, 0"', '"Zoë, 0"')).encode("utf-8")
    table, profile = core.preprocess(body)
    assert profile["rows"] == 10
    assert profile["columns_in"][0] == "PassengerId"


def test_size_limit():
    core.check_size(100, 100)
    with pytest.raises(InputRejected, match="larger than the 100-byte limit"):
        core.check_size(101, 100)


def test_profile_is_json_safe(titanic_bytes):
    import json

    _, profile = core.preprocess(titanic_bytes)
    text = json.dumps(profile, allow_nan=False)
    assert not any(isinstance(v, float) and math.isnan(v) for v in profile["skewness"].values())
    assert "NaN" not in text
