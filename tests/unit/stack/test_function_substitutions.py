"""The project's ``${…Function…}`` names, filled in for a list of functions."""

from stepkit.stack.references import function_substitutions


def test_function_names_and_arns_use_the_stacks_naming():
    values = function_substitutions(["train", "select_model", "batch-inference"], lambda fn: f"arn:{fn}")
    assert values == {
        "TrainFunctionArn": "arn:train", "TrainFunctionName": "train",
        "SelectModelFunctionArn": "arn:select_model", "SelectModelFunctionName": "select_model",
        "BatchInferenceFunctionArn": "arn:batch-inference", "BatchInferenceFunctionName": "batch-inference",
    }
