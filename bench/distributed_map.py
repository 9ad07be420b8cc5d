"""Distributed Map over a large CSV in S3 against the inline Map (figures go to bench/README.md).

    .venv/bin/python bench/distributed_map.py [--rows 100000] [--batch 1000] [--quick]

1. ``distributed``: a CSV of N rows in S3 (moto's in-process S3, ``mock_aws``) read by an
   ItemReader (``InputType: CSV``), grouped by an ItemBatcher (MaxItemsPerBatch B), each
   batch a child execution of a Task whose Lambda is a trivial Python function (it counts
   its rows), results exported by a ResultWriter (JSONL, COMPACT): items/s.
2. ``inline``: an inline Map over the same N rows given in the input, Pass processor (the
   engine's inline figure): items/s.
3. memory: each distributed size runs in a fresh process; peak RSS growth (VmHWM, reset
   before the run) for N/10 and N rows, with the children's histories kept in memory (the
   default: DescribeExecution and GetExecutionHistory of every child) and without
   (``retain_child_histories=False``, as when the endpoint persists them): the CSV is
   streamed, never read whole, so what grows is only what the Map Run keeps per child.

Times are the median of 3 runs of one execution's wall time (setup and the upload are not
timed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROWS = 100_000
BATCH = 1_000


def csv_body(rows: int) -> bytes:
    return ("id,feature,label\n" + "".join(f"{i},{i * 0.5:.1f},{i % 3}\n" for i in range(rows))).encode()


def distributed_definition(batch: int) -> dict:
    return {
        "StartAt": "Inference",
        "States": {
            "Inference": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": "bench-data", "Key": "rows.csv"},
                },
                "ItemBatcher": {"MaxItemsPerBatch": batch},
                "MaxConcurrency": 8,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Score",
                    "States": {
                        "Score": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "score", "Payload.$": "$"},
                            "OutputPath": "$.Payload",
                            "End": True,
                        }
                    },
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "bench-results", "Prefix": "scores"},
                    "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"},
                },
                "End": True,
            }
        },
    }


def inline_definition() -> dict:
    """The same rows' shape made in the state (an input of 100,000 rows is over the 256 KiB
    StartExecution limit): a JSONata range, each item shaped like a CSV row by a Pass."""
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "Items": "{% [0..$states.input.n - 1] %}",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {
                        "P": {
                            "Type": "Pass",
                            "QueryLanguage": "JSONPath",
                            "Parameters": {"id.$": "States.Format('{}', $)", "label": "0"},
                            "End": True,
                        }
                    },
                },
                "Output": "{% {'n': $count($states.result)} %}",
                "End": True,
            }
        },
    }


def score(event: dict) -> dict:
    return {"rows": len(event["Items"])}


def rss_kib() -> int:
    """Peak RSS (VmHWM) since the last reset, or ru_maxrss where it cannot be reset."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def one_distributed(rows: int, batch: int, repeats: int, keep_histories: bool = True) -> dict:
    """In this process: upload, then time ``repeats`` executions; peak RSS growth of the first."""
    import boto3
    from moto import mock_aws

    from stepkit import StateMachine
    from stepkit.endpoint.map_runs import describe_map_run

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench-data")
        s3.create_bucket(Bucket="bench-results")
        s3.put_object(Bucket="bench-data", Key="rows.csv", Body=csv_body(rows))
        machine = StateMachine(distributed_definition(batch), functions={"score": score}, name="Bench")
        machine.registry.client("s3")  # made before the baseline, like the upload
        times, growth = [], None
        for _ in range(repeats):
            reset_peak()
            before = rss_kib()
            start = time.perf_counter()
            execution_run = machine.prepare({}, retain_child_histories=keep_histories)
            ex = execution_run.start()
            times.append(time.perf_counter() - start)
            if growth is None:
                growth = rss_kib() - before
            assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
            (map_run,) = execution_run.map_runs.values()
            assert describe_map_run(map_run)["itemCounts"]["succeeded"] == rows
            del execution_run, ex, map_run
    return {"rows": rows, "batch": batch, "median_s": statistics.median(times), "rss_growth_kib": growth}


def one_inline(rows: int, repeats: int) -> dict:
    from stepkit import StateMachine

    machine = StateMachine(inline_definition())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ex = machine.run({"n": rows}, unlimited_history=True)  # over AWS's 25,000-event quota
        times.append(time.perf_counter() - start)
        assert ex.output == {"n": rows}
    return {"rows": rows, "median_s": statistics.median(times)}


def in_fresh_process(kind: str, rows: int, batch: int, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--rows", str(rows), "--batch", str(batch),
         "--repeats", str(repeats)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10,000 rows, one run")
    parser.add_argument("--child", choices=["distributed", "distributed-lean", "inline"])
    args = parser.parse_args()
    if args.child in ("distributed", "distributed-lean"):
        keep = args.child == "distributed"
        print(json.dumps(one_distributed(args.rows, args.batch, args.repeats, keep_histories=keep)))
        return
    if args.child == "inline":
        print(json.dumps(one_inline(args.rows, args.repeats)))
        return
    rows, repeats = (10_000, 1) if args.quick else (args.rows, args.repeats)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; {rows:,} CSV rows, batches of {args.batch}")
    small = in_fresh_process("distributed", max(rows // 10, args.batch), args.batch, 1)
    big = in_fresh_process("distributed", rows, args.batch, repeats)
    lean_small = in_fresh_process("distributed-lean", max(rows // 10, args.batch), args.batch, 1)
    lean_big = in_fresh_process("distributed-lean", rows, args.batch, 1)
    inline = in_fresh_process("inline", rows, args.batch, repeats)
    print(f"distributed map: {rows / big['median_s']:,.0f} items/s ({big['median_s']:.2f} s, "
          f"{rows // args.batch} child executions)")
    print(f"inline map:      {rows / inline['median_s']:,.0f} items/s ({inline['median_s']:.2f} s)")
    print(f"peak RSS growth, child histories kept: {small['rss_growth_kib'] / 1024:.1f} MiB for "
          f"{small['rows']:,} rows, {big['rss_growth_kib'] / 1024:.1f} MiB for {big['rows']:,} rows")
    print(f"peak RSS growth, retain_child_histories=False: {lean_small['rss_growth_kib'] / 1024:.1f} MiB for "
          f"{lean_small['rows']:,} rows, {lean_big['rss_growth_kib'] / 1024:.1f} MiB for {lean_big['rows']:,} rows")


if __name__ == "__main__":
    main()
