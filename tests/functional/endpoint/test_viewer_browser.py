"""The viewer in a real browser: Debian's Chromium, headless, driven by Playwright.

It opens the viewer of an endpoint on a free port, starts a workflow with a Distributed Map
of Lambda tasks and an activity the test answers, watches the states turn green without
reloading (the page polls; the test waits on the DOM with generous deadlines, never on
time), reads a state's output, and opens the Map Run and a child execution. Screenshots go
to docs/images/ (the README shows the execution's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from viewer_scenario import approve, viewer_workflow

from stepkit.endpoint import LocalEndpoint

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("STEPKIT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
WAIT_MS = 120_000  # a deadline for the DOM to show what is awaited, not a measure of speed


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()
    assert errors == [], errors


def _node(state: str, status: str) -> str:
    return f'g.node[data-state="{state}"][data-status="{status}"]'


def test_watch_an_execution_turn_green_and_open_its_map_run(endpoint: LocalEndpoint, clients: Any, page: Any):
    sfn, lam = clients("stepfunctions"), clients("lambda")
    machine, activity = viewer_workflow(sfn, lam, items=6)
    machine_name = machine.rsplit(":", 1)[-1]

    page.goto(endpoint.url + "/_stepkit/ui/")
    page.click(f'tr[data-machine="{machine_name}"] a')
    page.wait_for_selector("#executions")
    page.select_option("#since-filter", "3600")  # started in the last hour
    page.select_option("#status-filter", "RUNNING")
    sfn.start_execution(stateMachineArn=machine, name="live-run")
    page.click('tr[data-execution="live-run"] a')  # waits for the list's next refresh to show it

    # Running: the Map's children finished, the activity waits for this test.
    page.wait_for_selector(_node("Fan", "SUCCEEDED"))
    page.wait_for_selector(_node("Approve", "RUNNING"))
    assert page.locator(_node("Done", "SUCCEEDED")).count() == 0
    approve(sfn, activity)
    page.wait_for_selector(_node("Done", "SUCCEEDED"))  # the same page, refreshed by its polling
    page.wait_for_selector(_node("Approve", "SUCCEEDED"))
    assert page.locator("#summary .badge").first.get_attribute("data-status") == "SUCCEEDED"

    page.click('g.node[data-state="Fan"]')
    output = page.locator("#state-output").text_content()
    assert '"double": 12' in output and '"n": 6' in output
    assert page.locator('.gantt-row[data-state="Fan"] .bar-SUCCEEDED').count() == 1
    assert page.locator("#event-table tr").count() > 10
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "execution.png"), full_page=True)

    page.click("a.maprun-link")
    page.wait_for_selector("#maprun-counts")
    assert page.locator('#maprun-counts [data-count="succeeded"] b').text_content() == "6"
    assert page.locator("#maprun-strip a.bar-SUCCEEDED").count() == 6
    page.screenshot(path=str(IMAGES / "maprun.png"), full_page=True)

    page.locator("#children a").first.click()
    page.wait_for_selector(_node("Double", "SUCCEEDED"))
    page.click('g.node[data-state="Double"]')
    assert '"double": 2' in page.locator("#state-output").text_content()
    # The child's own invocation of the function, with its log lines (matched by request id).
    invocation = page.locator("#task-logs .task-invocation")
    invocation.wait_for()
    assert invocation.count() == 1
    lines = invocation.locator("pre.log").text_content()
    request = invocation.get_attribute("data-request")
    assert lines.startswith(f"START RequestId: {request}") and f"REPORT RequestId: {request}" in lines
    page.locator("#detail").screenshot(path=str(IMAGES / "task-logs.png"))

    page.click("#nav-lambda")
    page.locator("tr[data-function] a").first.click()
    page.wait_for_selector("#invocations")
    assert page.locator("#invocations tr[data-request]").count() == 6


def test_stop_from_the_page(endpoint: LocalEndpoint, clients: Any, page: Any):
    from endpoint_helpers import create_machine

    sfn = clients("stepfunctions")
    machine = create_machine(sfn, {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600,
                                                                          "End": True}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    page.goto(endpoint.url + "/_stepkit/ui/#/execution/" + execution)
    page.wait_for_selector(_node("Hold", "RUNNING"))
    page.click("#stop")
    page.wait_for_selector('#summary .badge[data-status="ABORTED"]')
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_model_selection_chart(endpoint: LocalEndpoint, clients: Any, page: Any):
    """The training pipeline's Report state's shape (select_model's result), from a Pass state."""
    from endpoint_helpers import create_machine, wait_execution

    sfn = clients("stepfunctions")
    report = {"metric": "accuracy", "ranking": [
        {"candidate_id": "c1", "family": "random_forest", "validation_score": 0.93},
        {"candidate_id": "c0", "family": "logistic", "validation_score": 0.88},
        {"candidate_id": "c2", "family": "knn", "validation_score": 0.81}],
        "best": {"candidate_id": "c1", "test": {"accuracy": 0.91}},
        "champion": {"version": 3, "test_score": 0.89, "comparable": True}}
    machine = create_machine(sfn, {"StartAt": "Report", "States": {"Report": {"Type": "Pass", "Result": report,
                                                                              "End": True}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_execution(sfn, execution)["status"] == "SUCCEEDED"
    page.goto(endpoint.url + "/_stepkit/ui/#/execution/" + execution)
    page.wait_for_selector("#candidate-chart")
    assert page.locator("#candidate-chart g.candidate").count() == 3
    assert page.locator('#candidate-chart g.candidate[data-best="true"]').get_attribute("data-candidate") == "c1"
    assert page.locator("#candidate-chart rect.bar-test").count() == 1
    assert "champion v3" in page.locator("#candidate-chart .champion-label").text_content()
    page.locator("#candidates").screenshot(path=str(IMAGES / "candidates.png"))


def test_failed_map_run_lists_failed_items_and_redrives(endpoint: LocalEndpoint, clients: Any, page: Any):
    import time

    from endpoint_helpers import create_function, create_machine, wait_execution

    sfn, lam = clients("stepfunctions"), clients("lambda")
    code = ("def handler(event, context):\n    if event % 2:\n        raise ValueError(f'odd item {event}')\n"
            "    return event\n")
    function = lam.get_function(FunctionName=create_function(lam, code))["Configuration"]["FunctionArn"]
    machine = create_machine(sfn, {"StartAt": "Fan", "States": {"Fan": {
        # One at a time, one failure tolerated: items 1 and 3 fail (the second fails the Map Run).
        "Type": "Map", "ItemsPath": "$.items", "End": True, "MaxConcurrency": 1, "ToleratedFailureCount": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check", "States": {"Check": {"Type": "Task", "Resource": function, "End": True}}}}}})
    execution = sfn.start_execution(stateMachineArn=machine, input='{"items": [1, 2, 3, 4]}')["executionArn"]
    assert wait_execution(sfn, execution)["status"] == "FAILED"

    page.goto(endpoint.url + "/_stepkit/ui/#/execution/" + execution)
    page.wait_for_selector(_node("Fan", "FAILED"))
    page.click("a.maprun-link")
    page.wait_for_selector("#maprun-counts")
    assert page.locator('#maprun-counts [data-count="failed"] b').text_content() == "2"
    assert page.locator("#maprun-strip a.bar-FAILED").count() == 2
    assert "odd item 3" in page.locator("main").text_content()
    page.locator("#maprun-strip a.bar-FAILED").first.click()  # a failed child: its function's error logged
    page.wait_for_selector(_node("Check", "FAILED"))
    page.click('g.node[data-state="Check"]')
    failed = page.locator('#task-logs .task-invocation .badge[data-status="FAILED"]')
    failed.wait_for()
    assert "ValueError: odd item" in page.locator("#task-logs pre.log").first.text_content()
    page.go_back()
    page.wait_for_selector("#redrive")
    page.click("#redrive")
    deadline = time.monotonic() + 120  # a deadline for the redrive to be recorded, not a measure
    while sfn.describe_execution(executionArn=execution).get("redriveCount", 0) < 1:
        assert time.monotonic() < deadline, "the redrive was not recorded"
        time.sleep(0.05)


def test_serving_traffic_and_accuracy_per_version(endpoint: LocalEndpoint, clients: Any, page: Any):
    from serving_double import remove_serving_apis, serving_api

    remove_serving_apis(clients("apigateway"))
    page.goto(endpoint.url + "/_stepkit/ui/#/serving")
    page.wait_for_selector("#no-serving, #failure, #serving-error")
    assert page.locator("#no-serving").count() == 1, page.locator("main").text_content()  # nothing deployed yet
    serving_api(clients("lambda"), clients("apigateway"))
    page.wait_for_selector('#serving-versions tr[data-version="2"]')  # the page's next poll finds it
    assert "random_forest" in page.locator('#serving-versions tr[data-version="2"]').text_content()
    # Samples accumulate while the page is open: each version's curve gains points.
    page.wait_for_function("""() => [...document.querySelectorAll('#traffic-chart path.series')]
        .filter((p) => Number(p.dataset.points) >= 3).length === 2""")
    assert page.locator('#accuracy-chart path.series[data-version="1"]').count() == 1
    page.locator("main").screenshot(path=str(IMAGES / "serving.png"))


def test_a_simulation_document_drawn(endpoint: LocalEndpoint, page: Any, tmp_path: Path):
    import json
    import subprocess
    import sys

    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text("functions: {}\n")
    fan = {"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
        "StartAt": "Work", "States": {"Work": {"Type": "Task", "End": True,
                                                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work"}}}}}}
    (tmp_path / "fan.asl.json").write_text(json.dumps(fan))
    done = subprocess.run([sys.executable, "-m", "stepkit.cli", "simulate", "fan.asl.json", "--input",
                           json.dumps({"items": list(range(100))}), "--task-seconds", "2", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    (tmp_path / "sim.json").write_text(done.stdout)
    (tmp_path / "bad.json").write_text("[1, 2]")

    page.goto(endpoint.url + "/_stepkit/ui/#/simulation")
    page.set_input_files("#simulation-file", str(tmp_path / "bad.json"))
    page.wait_for_selector("#simulation-error")
    page.set_input_files("#simulation-file", str(tmp_path / "sim.json"))
    page.wait_for_selector("#simulation-chart path.series")
    assert page.locator("#simulation-makespan").text_content() == "6 s"  # 100 items, 40 at a time, 2 s each
    assert int(page.locator("#simulation-chart path.series").get_attribute("data-points")) >= 3
    page.locator("main").screenshot(path=str(IMAGES / "simulation.png"))
