"""A JSONata Map on stepkit, and what moto does with it (figures go to bench/README.md).

    .venv/bin/python bench/asl_jsonata.py [--quick]

The machine (``QueryLanguage: JSONata``) is the ``inline-map`` workload of
``asl_engine.py`` written with ``{% %}`` expressions: ``Items``, an ``ItemSelector`` reading
``$states.context.Map.Item``, a Pass whose ``Output`` builds each result, the Map's
``Output``. Both machines must return the same output.

1. stepkit runs the JSONata machine and its JSONPath twin (what JSONata costs);
2. moto runs the JSONata machine once: its status, error and cause are printed as they
   come (moto's JSONata evaluator is a stub, so it cannot run it at all);
3. moto runs the JSONPath twin, the only figure of moto's to compare the JSONata rate with.
"""

from __future__ import annotations

import argparse
import logging
import statistics
from typing import Any

from asl_engine import (
    MOTO_CONFIG,
    MotoEngine,
    Result,
    StepkitEngine,
    Workload,
    calibrate,
    check_and_time,
    check_jsonpath_ng,
    inline_map,
    load_average,
    machine_info,
    map_input,
    moto_client,
    versions,
)


def jsonata_map() -> dict[str, Any]:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "Items": "{% $states.input.items %}",
                "ItemSelector": {
                    "value": "{% $states.context.Map.Item.Value %}",
                    "index": "{% $states.context.Map.Item.Index %}",
                    "tag": "{% $states.input.tag %}",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Shape",
                    "States": {
                        "Shape": {
                            "Type": "Pass",
                            "Output": {
                                "id": "{% $states.input.value.id %}",
                                "index": "{% $states.input.index %}",
                                "tag": "{% $states.input.tag %}",
                            },
                            "End": True,
                        }
                    },
                },
                "Output": "{% $states.result %}",
                "End": True,
            }
        },
    }


def expected_output(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": item["id"], "index": i, "tag": data["tag"]} for i, item in enumerate(data["items"])]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def moto_on_jsonata(client: Any, data: Any) -> tuple[Any, list[str]]:
    """moto's outcome for the JSONata machine, and the errors its interpreter logged
    (kept off the terminal)."""
    logger = logging.getLogger("moto.stepfunctions.parser")
    capture = _Capture()
    logger.addHandler(capture)
    propagate, logger.propagate = logger.propagate, False
    try:
        engine = MotoEngine(jsonata_map(), client)
        return engine.run(data), capture.messages
    except Exception as err:  # create_state_machine itself may refuse the definition
        return f"{type(err).__name__}: {err}", capture.messages
    finally:
        logger.removeHandler(capture)
        logger.propagate = propagate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny size, one round (a smoke run)")
    args = parser.parse_args()
    check_jsonpath_ng(versions()["jsonpath-ng"])
    print(machine_info())
    print(f"calibration: a 1,000,000-step Python loop takes {calibrate():.0f} ms (best of 5)")
    from moto import mock_aws

    k = 10 if args.quick else 500
    rounds = 1 if args.quick else 5
    inner = {"stepkit": 2, "stepkit-jsonata": 2, "moto": 1} if args.quick else {
        "stepkit": 10, "stepkit-jsonata": 10, "moto": 1}
    data = map_input(k)

    @mock_aws(config=MOTO_CONFIG)
    def with_moto() -> tuple[Any, list[str], Result]:
        client = moto_client()
        moto_outcome, logged = moto_on_jsonata(client, data)
        jsonata = StepkitEngine(jsonata_map())
        jsonata.name = "stepkit-jsonata"
        # The JSONPath twin on both engines, then the JSONata machine on stepkit, round by round;
        # check_and_time first requires all three outputs to be equal.
        engines = [StepkitEngine(inline_map()), MotoEngine(inline_map(), client), jsonata]
        twin = Workload("jsonata-map", "iterations", inline_map(), data, k)
        return moto_outcome, logged, check_and_time(twin, engines, rounds, inner)

    first = StepkitEngine(jsonata_map()).run(data)
    if first.status != "SUCCEEDED" or first.output != expected_output(data):
        raise SystemExit(f"stepkit's JSONata Map is wrong: {first.status} {first.error} {first.cause}")
    moto_outcome, logged, result = with_moto()

    sk_jsonata = result.rate("stepkit-jsonata")
    sk_jsonpath = result.rate("stepkit")
    moto_jsonpath = result.rate("moto")
    times, cpu = result.times, result.cpu
    print(f"\nMap over {k:,} items, rates in Map iterations per second (size / median time per execution)\n")
    print(f"  stepkit, JSONata machine        {sk_jsonata:>9,.0f}/s  "
          f"(median {statistics.median(times['stepkit-jsonata']) * 1000:.2f} ms, "
          f"CPU {statistics.median(cpu['stepkit-jsonata']) * 1000:.2f} ms, {len(times['stepkit-jsonata'])} runs; "
          f"output checked)")
    print(f"  stepkit, JSONPath twin          {sk_jsonpath:>9,.0f}/s  (JSONata costs {sk_jsonpath / sk_jsonata:.1f}x)")
    if isinstance(moto_outcome, str):
        print(f"  moto, JSONata machine           refused: {moto_outcome}")
    else:
        print(f"  moto, JSONata machine           {moto_outcome.status}: error {moto_outcome.error!r}, "
              f"cause {moto_outcome.cause!r}")
    if logged:
        print(f"    moto logged {len(logged)} errors; the first: {logged[0][:200]}")
    print(f"  moto, JSONPath twin             {moto_jsonpath:>9,.0f}/s  "
          f"(median {statistics.median(times['moto']) * 1000:,.0f} ms, "
          f"CPU {statistics.median(cpu['moto']) * 1000:,.0f} ms, {len(times['moto'])} runs)")
    cpu_ratio = statistics.median(cpu["moto"]) / statistics.median(cpu["stepkit-jsonata"])
    print(f"\n  stepkit JSONata / moto JSONPath twin: {sk_jsonata / moto_jsonpath:,.0f}x by wall time, "
          f"{cpu_ratio:,.0f}x by CPU time\n  (goal of issue 6: >= 25x where moto can run it; moto cannot run JSONata)")
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
