"""``stepkit serving``: the policy documents its options make, and its status table."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from stepkit.cli import main
from stepkit.cli.serving_cmd import build_policy, status_table

DEFAULTS = {"sticky": True, "discount": 1.0, "epsilon": 0.1, "share": 1.0, "method": "vote"}


def policy(**kinds: object) -> dict[str, object]:
    return build_policy(kinds, **DEFAULTS)  # type: ignore[arg-type]


def test_each_option_makes_its_policy() -> None:
    assert policy(champion=True) == {"kind": "champion"}
    assert policy(weighted="3=90, 4=10") == {"kind": "weighted", "weights": {"3": 90.0, "4": 10.0}, "sticky": True}
    assert policy(thompson="3,4") == {"kind": "thompson", "versions": ["3", "4"], "discount": 1.0}
    assert policy(epsilon_greedy="3,4")["epsilon"] == 0.1
    assert policy(shadow="3,4") == {"kind": "shadow", "primary": "3", "challenger": "4", "share": 1.0}
    assert policy(ensemble="3,4,5") == {"kind": "ensemble", "versions": ["3", "4", "5"], "method": "vote"}


@pytest.mark.parametrize(("kinds", "error"), [
    ({}, click.UsageError), ({"champion": True, "thompson": "3,4"}, click.UsageError),
    ({"weighted": "3:90"}, click.BadParameter), ({"weighted": "3=ninety"}, click.BadParameter),
    ({"shadow": "3"}, click.BadParameter), ({"thompson": " , "}, click.BadParameter),
])
def test_bad_options_are_usage_errors(kinds: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        policy(**kinds)


def test_bad_options_exit_2_before_any_call() -> None:
    result = CliRunner().invoke(main, ["serving", "policy", "set", "m", "--weighted", "3", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "VERSION=WEIGHT" in result.output


def test_the_status_table_has_a_row_per_version_and_arm() -> None:
    metrics = {"requests": 10, "errors": 1, "error_rate": 0.1, "p50_ms": 12.0, "p99_ms": 40.0, "accuracy": 0.9,
               "feedbacks": 10, "shadow_agreement": None}
    models = {"model_name": "m", "policy": {"kind": "champion"}, "revision": 2,
              "versions": [{"version": "1", "aliases": ["champion"], "share": 100.0, "observed_share": 1.0,
                            "metrics": metrics}],
              "other_arms": {"1+2": {"share": None, "observed_share": None, "metrics": {**metrics, "requests": 0}}}}
    console = Console(width=200, record=True)
    console.print(status_table(models))
    text = console.export_text()
    assert "champion" in text and "100%" in text and "1 (10.0%)" in text and "0.900" in text and "1+2" in text
