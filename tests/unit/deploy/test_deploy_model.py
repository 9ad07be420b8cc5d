"""The stack's deploy sections, stages, and the resources and policies derived from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepkit.deploy.desired import build_desired, dependency_order
from stepkit.deploy.errors import DeployInputError
from stepkit.deploy.naming import Names
from stepkit.deploy.providers.rules import s3_event_pattern
from stepkit.stack import Project, StackError, parse_stack

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "stacks"
NAMES = Names("pipe", "dev", "us-east-1", "123456789012")


def _problems(text: str) -> list[str]:
    with pytest.raises(StackError) as caught:
        parse_stack(text, "infra/stack.yaml")
    return str(caught.value).splitlines()


def test_sections_parse_with_defaults() -> None:
    stack = parse_stack(
        "functions:\n  f:\n    triggers:\n      - sqs: {queue: q}\n"
        "state_machines:\n  m: {definition: m.asl.json, type: express}\n"
        "buckets:\n  b:\nqueues:\n  q: {dead_letter: {}}\n"
    )
    assert stack.state_machines["m"].type == "EXPRESS"
    assert stack.functions["f"].triggers[0].sqs.batch_size == 10  # type: ignore[union-attr]
    assert stack.functions["f"].triggers[0].sqs.partial_failures is True  # type: ignore[union-attr]
    assert stack.queues["q"].dead_letter.max_receive_count == 5  # type: ignore[union-attr]
    assert stack.buckets["b"].versioning is False


def test_stages_override_values_and_report_errors_at_the_override() -> None:
    text = ("functions:\n  f: {memory_size: 256}\nstages:\n  dev: {}\n  prod:\n    functions:\n"
            "      f: {memory_size: 4096}\n")
    stack = parse_stack(text)
    assert stack.for_stage("dev").functions["f"].memory_size == 256
    assert stack.for_stage("prod").functions["f"].memory_size == 4096
    assert _problems(text.replace("4096", "20000"))[0].startswith(
        "infra/stack.yaml:7: stages.prod.functions.f.memory_size: Input should be less than or equal to 10240")
    assert _problems("stages:\n  Prod: {}\n")[0].endswith("stage name 'Prod' must be 1-12 lowercase letters or digits")
    assert "unknown field" in _problems("stages:\n  prod:\n    fucntions: {}\n")[0]


def test_references_to_undeclared_resources_name_the_line() -> None:
    text = ("functions:\n  f:\n    access:\n      - {bucket: nope}\n      - {state_machine: m}\n"
            "queues:\n  q: {dead_letter: {queue: gone}}\n")
    assert _problems(text) == [
        "infra/stack.yaml:4: functions.f.access.0.bucket: bucket 'nope' is not declared under `buckets:` "
        "(declared: none)",
        "infra/stack.yaml:5: functions.f.access.1.state_machine: state machine 'm' is not declared under "
        "`state_machines:` (declared: none)",
        "infra/stack.yaml:7: queues.q.dead_letter.queue: queue 'gone' is not declared under `queues:` "
        "(declared: q)",
    ]


def test_shapes_that_aws_would_refuse() -> None:
    assert "exactly one of" in _problems("functions:\n  f:\n    triggers:\n      - {}\n")[0]
    assert "state machine is started by `s3` triggers" in _problems(
        "state_machines:\n  m:\n    definition: x\n    triggers:\n      - sqs: {queue: q}\nqueues:\n  q: {}\n")[0]
    assert "batching_window" in _problems("functions:\n  f:\n    triggers:\n      - sqs: {queue: q, batch_size: 50}\n"
                                          "queues:\n  q: {}\n")[0]
    assert "send is not an action on a bucket" in _problems(
        "functions:\n  f:\n    access:\n      - {bucket: b, actions: [send]}\nbuckets:\n  b: {}\n")[0]
    assert "same ${MyModel" in _problems("functions:\n  my_model: {}\n  my-model: {}\n")[0]


def test_the_pipeline_resources_in_dependency_order() -> None:
    project = Project.load(FIXTURES / "pipeline" / "infra" / "stack.yaml")
    desired = build_desired(project.for_stage("dev"), "dev", NAMES, {"PIPE_API_TOKEN": "x"})
    keys = [r.key for r in desired.resources]
    assert keys.index("queue:jobs-dlq") < keys.index("queue:jobs")
    assert keys.index("role:function-train") < keys.index("function:train") < keys.index("state_machine:training")
    assert keys.index("permission:ingest-s3-data") < keys.index("bucket_notifications:data")
    assert keys[-1] == "bucket_notifications:data"
    ingest = desired.by_key()["function:ingest"]
    assert ingest.display()["environment"]["API_TOKEN"] == "****"  # type: ignore[attr-defined]
    assert "x" not in json.dumps(ingest.display()["environment"]["API_TOKEN"])
    assert dependency_order(list(reversed(desired.resources))) == desired.resources


def test_policies_are_least_privilege() -> None:
    project = Project.load(FIXTURES / "pipeline" / "infra" / "stack.yaml")
    policies = {r.name: r.policy for r in build_desired(project, "dev", NAMES, {"PIPE_API_TOKEN": "x"}).resources
                if r.kind == "role"}

    def statements(role: str) -> dict[str, object]:
        out = {}
        for s in policies[role]["Statement"]:
            for action in [s["Action"]] if isinstance(s["Action"], str) else s["Action"]:
                out[action] = s["Resource"]
        return out

    worker = statements("pipe-dev-worker-fn")
    assert worker["sqs:ReceiveMessage"] == "arn:aws:sqs:us-east-1:123456789012:pipe-dev-jobs"
    assert worker["s3:PutObject"] == "arn:aws:s3:::pipe-dev-artifacts/results/*"
    assert worker["logs:PutLogEvents"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/pipe-dev-worker:*"
    assert "s3:GetObject" not in worker
    ingest = statements("pipe-dev-ingest-fn")
    assert ingest["s3:GetObject"] == "arn:aws:s3:::pipe-dev-data/uploads/*"  # what its trigger reads
    assert ingest["sqs:SendMessage"] == "arn:aws:sqs:us-east-1:123456789012:pipe-dev-jobs"
    machine = statements("pipe-dev-training-sm")
    assert machine["lambda:InvokeFunction"] == ["arn:aws:lambda:us-east-1:123456789012:function:pipe-dev-train",
                                                "arn:aws:lambda:us-east-1:123456789012:function:pipe-dev-train:*"]
    assert machine["sqs:SendMessage"] == "arn:aws:sqs:us-east-1:123456789012:pipe-dev-jobs"
    assert machine["logs:CreateLogDelivery"] == "*"  # AWS has no narrower resource for log delivery
    events = statements("pipe-dev-training-events")
    assert events == {"states:StartExecution": "arn:aws:states:us-east-1:123456789012:stateMachine:pipe-dev-training"}
    wildcards = [(role, action) for role in policies for action, resource in statements(role).items()
                 if resource == "*" and not action.startswith("logs:")]
    assert wildcards == []


def test_event_patterns_for_prefixes_and_suffixes() -> None:
    assert s3_event_pattern("b", "in/", "")["detail"]["object"] == {"key": [{"prefix": "in/"}]}
    assert s3_event_pattern("b", "in/", ".csv")["detail"]["object"] == {"key": [{"wildcard": "in/*.csv"}]}
    assert "object" not in s3_event_pattern("b", "", "")["detail"]


def test_names_over_the_service_limits(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "functions" / ("f" * 60)).mkdir(parents=True)
    (tmp_path / "functions" / ("f" * 60) / "app.py").write_text("def handler(e, c):\n    return e\n")
    (tmp_path / "infra" / "stack.yaml").write_text(f"name: longstack\nfunctions:\n  {'f' * 60}: {{}}\n")
    with pytest.raises(DeployInputError) as caught:
        build_desired(Project.load(tmp_path / "infra" / "stack.yaml"), "dev", NAMES)
    assert "over the limit of 64" in str(caught.value)


REPO = FIXTURES.parents[2]


def _statements(policy: dict) -> list[dict]:
    return [{**s, "Action": [s["Action"]] if isinstance(s["Action"], str) else s["Action"],
             "Resource": [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]}
            for s in policy["Statement"]]


def test_the_repository_ml_stack_builds_with_its_triggers_stages_and_least_privilege() -> None:
    project = Project.load(REPO / "infra" / "stack.yaml").for_stage("prod")
    names = Names("stepkit-ml", "prod", "us-east-1", "123456789012")
    desired = build_desired(project, "prod", names)
    by_key = desired.by_key()
    assert by_key["function:train"].memory_size == 4096  # type: ignore[attr-defined]
    assert {r.runtime for r in desired.resources if r.kind == "function"} == {"python3.12"}  # type: ignore[attr-defined]
    assert by_key["function:train"].environment["ARTIFACTS_BUCKET"] == "stepkit-ml-prod-artifacts"  # type: ignore[attr-defined]
    training = by_key["role:state_machine-training"].policy  # type: ignore[attr-defined]
    invoked = {r.rsplit(":", 1)[-1] for s in _statements(training) if s["Action"] == ["lambda:InvokeFunction"]
               for r in s["Resource"] if not r.endswith(":*")}
    assert invoked == {"stepkit-ml-prod-preprocess", "stepkit-ml-prod-train", "stepkit-ml-prod-select_model",
                       "stepkit-ml-prod-register_model"}
    rules = [r for r in desired.resources if r.kind == "event_rule"]
    patterns = {r.logical: r.pattern["detail"]["object"] for r in rules if r.pattern}  # type: ignore[attr-defined]
    assert patterns == {"training-s3-0": {"key": [{"prefix": "datasets/"}]},
                        "batch_inference-s3-0": {"key": [{"prefix": "incoming/"}]}}
    nightly = by_key["event_rule:training-schedule-1"]
    assert (nightly.name, nightly.schedule, nightly.enabled) == (  # type: ignore[attr-defined]
        "stepkit-ml-prod-training-schedule-1", "cron(0 3 * * ? *)", True)
    assert json.loads(nightly.input) == {"dataset_key": "datasets/latest.csv"}  # type: ignore[attr-defined]
    assert by_key["bucket_notifications:artifacts"].eventbridge  # type: ignore[attr-defined]
    for machine in ("training", "batch_inference"):
        definition = json.loads(by_key[f"state_machine:{machine}"].definition)  # type: ignore[attr-defined]
        assert definition["States"]["Defaults"]["Result"]["model_name"] == "classifier"
        assert definition["States"]["Defaults"]["Result"]["bucket"] == "stepkit-ml-prod-artifacts"
    # register_model reads the candidate's files anywhere in the bucket, writes only the registry.
    register = _statements(by_key["role:function-register_model"].policy)  # type: ignore[attr-defined]
    writes = [s for s in register if "s3:PutObject" in s["Action"] or "s3:DeleteObject" in s["Action"]]
    assert writes and all(r == "arn:aws:s3:::stepkit-ml-prod-artifacts/registry/*" for s in writes
                          for r in s["Resource"])
    predict = _statements(by_key["role:function-predict"].policy)  # type: ignore[attr-defined]
    assert [s["Resource"] for s in predict if "s3:PutObject" in s["Action"]] == [
        ["arn:aws:s3:::stepkit-ml-prod-artifacts/predictions/*"]]
    assert not any(r.kind == "deployment_bucket" for r in desired.resources)


def test_code_for_lambdas_platform_brings_the_deployment_bucket_first_and_other_digests() -> None:
    project = Project.load(REPO / "infra" / "stack.yaml").for_stage("dev")
    names = Names("stepkit-ml", "dev", "us-east-1", "123456789012")
    for_lambda = build_desired(project, "dev", names, code_platform="lambda", deployment_bucket=True)
    for_host = build_desired(project, "dev", names, code_platform="host")
    first = for_lambda.resources[0]
    assert (first.kind, first.name) == ("deployment_bucket", "stepkit-ml-dev-deploy-123456789012")
    lambda_train = for_lambda.by_key()["function:train"]
    host_train = for_host.by_key()["function:train"]
    assert lambda_train.code_digest != host_train.code_digest  # type: ignore[attr-defined]
    assert {k: v for k, v in lambda_train.properties().items() if k != "code_digest"} == \
        {k: v for k, v in host_train.properties().items() if k != "code_digest"}


def test_a_target_says_where_its_code_runs() -> None:
    from stepkit.deploy.errors import TargetError
    from stepkit.deploy.target import Target

    assert Target.resolve("local", environ={}).code_platform == "host"
    assert Target.resolve("localstack", environ={}).code_platform == "host"
    assert Target.resolve("aws", region="eu-west-1", environ={}).code_platform == "lambda"
    assert Target.resolve("localstack", environ={"STEPKIT_CODE_PLATFORM": "lambda"}).code_platform == "lambda"
    assert Target.resolve("aws", region="eu-west-1", environ={"STEPKIT_CODE_PLATFORM": "lambda"},
                          code_platform="host").code_platform == "host"
    with pytest.raises(TargetError, match="unknown code platform 'docker'"):
        Target.resolve("local", environ={}, code_platform="docker")


def test_the_nightly_retraining_is_deployed_disabled_in_dev() -> None:
    project = Project.load(REPO / "infra" / "stack.yaml").for_stage("dev")
    desired = build_desired(project, "dev", Names("stepkit-ml", "dev", "us-east-1", "123456789012"))
    nightly = desired.by_key()["event_rule:training-schedule-1"]
    assert (nightly.schedule, nightly.enabled) == ("cron(0 3 * * ? *)", False)  # type: ignore[attr-defined]
    # the rule's role may start the training state machine and nothing else
    role = desired.by_key()["role:events-training"].policy  # type: ignore[attr-defined]
    assert [(s["Action"], s["Resource"]) for s in _statements(role)] == [
        (["states:StartExecution"], ["arn:aws:states:us-east-1:123456789012:stateMachine:stepkit-ml-dev-training"])]


def test_schedule_triggers_are_checked_at_their_line() -> None:
    base = "state_machines:\n  m:\n    definition: m.asl.json\n    triggers:\n      - schedule: {expression: \"%s\"}\n"
    assert parse_stack(base % "rate(1 day)").state_machines["m"].triggers[0].schedule.expression == "rate(1 day)"  # type: ignore[union-attr]
    problem = _problems(base % "rate(1 days)")[0]
    assert problem.startswith("infra/stack.yaml:5: state_machines.m.triggers.0.schedule.expression: ")
    assert "'rate(1 days)' is not an EventBridge schedule expression" in problem
    assert "not an EventBridge schedule expression" in _problems(base % "cron(0 3 * * *)")[0]
    function = parse_stack("functions:\n  f:\n    triggers:\n      - schedule: {expression: rate(1 hour)}\n")
    assert function.functions["f"].triggers[0].schedule.expression == "rate(1 hour)"  # type: ignore[union-attr]
    assert "not an EventBridge schedule expression" in _problems(
        "functions:\n  f:\n    triggers:\n      - schedule: {expression: rate(0 hours)}\n")[0]


def test_a_schedule_rule_in_the_cloudformation_export() -> None:
    from stepkit.deploy.cloudformation import build_template

    template, _ = build_template(Project.load(REPO / "infra" / "stack.yaml"), "dev")
    rules = {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::Rule"}
    scheduled = [p for p in rules.values() if "ScheduleExpression" in p]
    assert len(scheduled) == 1 and len(rules) == 3
    assert scheduled[0]["ScheduleExpression"] == "cron(0 3 * * ? *)" and scheduled[0]["State"] == "DISABLED"
    assert "EventPattern" not in scheduled[0]
    assert json.loads(scheduled[0]["Targets"][0]["Input"]) == {"dataset_key": "datasets/latest.csv"}


TOPIC_STACK = """name: t
topics:
  drift: {}
functions:
  retrain:
    triggers:
      - sns: {topic: drift, filter_policy: {severity: [high]}}
"""


def test_topic_triggers_are_checked_at_their_line() -> None:
    assert _problems(TOPIC_STACK.replace("topic: drift", "topic: drfit")) == [
        "infra/stack.yaml:7: functions.retrain.triggers.0.sns.topic: topic 'drfit' is not declared under `topics:` "
        "(declared: drift)"]
    assert "an SQS queue or an SNS topic triggers a function" in _problems(
        "state_machines:\n  m:\n    definition: x\n    triggers:\n      - sns: {topic: d}\ntopics:\n  d: {}\n")[0]
    assert "Input should be 'attributes' or 'body'" in _problems(
        TOPIC_STACK.replace("filter_policy: {severity: [high]}", "filter_scope: payload"))[0]


def test_a_topic_trigger_is_a_subscription_and_a_permission_for_that_topic_only(tmp_path: Path) -> None:
    from stepkit.deploy.cloudformation import build_template

    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(TOPIC_STACK)
    (tmp_path / "functions" / "retrain").mkdir(parents=True)
    (tmp_path / "functions" / "retrain" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    project = Project.load(tmp_path / "infra" / "stack.yaml")
    desired = build_desired(project.for_stage("dev"), "dev", Names("t", "dev", "us-east-1", "123456789012"))
    by_key = desired.by_key()
    keys = [r.key for r in desired.resources]
    assert keys.index("topic:drift") < keys.index("subscription:retrain-drift")
    assert keys.index("permission:retrain-sns-drift") < keys.index("subscription:retrain-drift")
    permission = by_key["permission:retrain-sns-drift"]
    assert (permission.principal, permission.source_arn) == (  # type: ignore[attr-defined]
        "sns.amazonaws.com", "arn:aws:sns:us-east-1:123456789012:t-dev-drift")
    assert by_key["subscription:retrain-drift"].attributes() == {  # type: ignore[attr-defined]
        "FilterPolicy": '{"severity": ["high"]}', "FilterPolicyScope": "MessageAttributes"}
    template, _ = build_template(project, "dev")
    kinds = {v["Type"]: v["Properties"] for v in template["Resources"].values()}
    assert kinds["AWS::SNS::Topic"] == {"TopicName": "t-dev-drift"}
    assert kinds["AWS::SNS::Subscription"]["Protocol"] == "lambda"
    assert kinds["AWS::SNS::Subscription"]["FilterPolicy"] == {"severity": ["high"]}
    assert kinds["AWS::Lambda::Permission"]["Principal"] == "sns.amazonaws.com"


SCHEDULED_STACK = """name: t
streams:
  clicks: {}
functions:
  tick:
    triggers:
      - schedule: {expression: "cron(0 3 * * ? *)", enabled: false}
  consume:
    triggers:
      - pipe: {kinesis: clicks}
"""


def test_a_function_schedule_and_a_kinesis_pipe_get_least_privilege(tmp_path: Path) -> None:
    """A function's schedule is a rule with no role, invoking it through a permission for that
    rule only; a Kinesis pipe's role reads that stream and invokes that function, nothing else."""
    from stepkit.deploy.cloudformation import build_template

    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(SCHEDULED_STACK)
    for name in ("tick", "consume"):
        (tmp_path / "functions" / name).mkdir(parents=True)
        (tmp_path / "functions" / name / "app.py").write_text("def handler(event, context):\n    return 1\n")
    project = Project.load(tmp_path / "infra" / "stack.yaml")
    desired = build_desired(project.for_stage("dev"), "dev", Names("t", "dev", "us-east-1", "123456789012"))
    by_key = desired.by_key()
    rule = by_key["event_rule:function-tick-schedule-0"]
    assert (rule.name, rule.schedule, rule.enabled, rule.role) == (  # type: ignore[attr-defined]
        "t-dev-tick-fn-schedule-0", "cron(0 3 * * ? *)", False, "")
    permission = by_key["permission:function-tick-schedule-0"]
    assert (permission.principal, permission.source_arn) == (  # type: ignore[attr-defined]
        "events.amazonaws.com", "arn:aws:events:us-east-1:123456789012:rule/t-dev-tick-fn-schedule-0")
    keys = [r.key for r in desired.resources]
    assert keys.index("permission:function-tick-schedule-0") < keys.index("event_rule:function-tick-schedule-0")
    assert not [k for k in keys if k.startswith("role:events-")]
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/t-dev-clicks"
    pipe_role = by_key["role:pipe-consume-pipe-0"].policy  # type: ignore[attr-defined]
    granted = {(a, r) for s in _statements(pipe_role) for a in s["Action"] for r in s["Resource"]}
    assert ("kinesis:GetRecords", stream) in granted and ("kinesis:ListStreams", "*") in granted
    assert {r for _, r in granted} == {stream, "*", "arn:aws:lambda:us-east-1:123456789012:function:t-dev-consume"}
    assert by_key["pipe:consume-pipe-0"].source_parameters(True) == {  # type: ignore[attr-defined]
        "FilterCriteria": {"Filters": []}, "KinesisStreamParameters": {"BatchSize": 10, "StartingPosition": "LATEST"}}

    template, _ = build_template(project, "dev")
    resources = template["Resources"]
    [rule_props] = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::Events::Rule"]
    assert rule_props["State"] == "DISABLED" and rule_props["Targets"][0]["Id"] == "function"
    assert resources[rule_props["Targets"][0]["Arn"]["Fn::GetAtt"][0]]["Type"] == "AWS::Lambda::Function"
    [pipe_props] = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::Pipes::Pipe"]
    assert resources[pipe_props["Source"]["Fn::GetAtt"][0]]["Type"] == "AWS::Kinesis::Stream"
