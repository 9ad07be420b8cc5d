"""Function names and ARNs in every form Lambda's FunctionName accepts."""

import pytest

from stepkit.runtime import FunctionNotFound, InvalidParameterValue
from stepkit.runtime.arn import FunctionRef, function_arn, parse_function_ref


def _parse(ref: str, qualifier: str | None = None) -> FunctionRef:
    return parse_function_ref(ref, qualifier, region="us-east-1", account_id="123456789012")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("train", FunctionRef("train", None)),
        ("train:$LATEST", FunctionRef("train", "$LATEST")),
        ("123456789012:function:train", FunctionRef("train", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:train", FunctionRef("train", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:train:prod", FunctionRef("train", "prod")),
    ],
)
def test_accepted_forms(ref: str, expected: FunctionRef) -> None:
    assert _parse(ref) == expected


def test_arn_of_a_name() -> None:
    arn = function_arn("f", "eu-west-1", "111122223333")
    assert arn == "arn:aws:lambda:eu-west-1:111122223333:function:f"
    assert function_arn("f", "eu-west-1", "111122223333", "$LATEST").endswith("function:f:$LATEST")


def test_another_region_or_account_is_not_found() -> None:
    with pytest.raises(FunctionNotFound):
        _parse("arn:aws:lambda:eu-west-1:123456789012:function:train")
    with pytest.raises(FunctionNotFound):
        _parse("999999999999:function:train")


def test_invalid_names_and_conflicting_qualifiers() -> None:
    with pytest.raises(InvalidParameterValue, match="failed to satisfy constraint"):
        _parse("not a name")
    with pytest.raises(InvalidParameterValue, match="does not match the specified qualifier"):
        _parse("train:prod", "dev")
