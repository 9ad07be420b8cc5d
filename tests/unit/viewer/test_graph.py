"""The definition graph: every state, nested groups, and edges of each kind, in each format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli.graph_cmd import graph as graph_command
from stepkit.viewer.graph import END, START, GraphError, definition_graph, rule_text, to_dot, to_mermaid, to_svg

TRAINING = str(Path(__file__).resolve().parents[3] / "statemachines" / "training.asl.json")

DEFINITION = {
    "StartAt": "Decide",
    "States": {
        "Decide": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Fan"},
            {"And": [{"Variable": "$.a", "IsPresent": True}, {"Not": {"Variable": "$.b", "StringEquals": "x"}}],
             "Next": "Both"},
        ], "Default": "Oops"},
        "Fan": {"Type": "Map", "ItemProcessor": {"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:w",
                     "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2}], "End": True}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}], "Next": "Both"},
        "Both": {"Type": "Parallel", "Branches": [
            {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
            {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "Next": "Inner"},
                                            "Inner": {"Type": "Parallel", "Branches": [
                                                {"StartAt": "Deep", "States": {"Deep": {"Type": "Succeed"}}}],
                                                "End": True}}}],
                 "End": True},
        "Oops": {"Type": "Fail", "Error": "Bad"},
    },
}


def _edges(graph, kind):
    names = {n.id: n.name for n in graph.nodes}
    return [(names[e.source], names[e.target], e.label) for e in graph.edges if e.kind == kind]


def test_every_state_is_a_node_with_its_group():
    graph = definition_graph(DEFINITION)
    names = {n.name: n for n in graph.nodes}
    assert set(names) == {"Start", "End", "Decide", "Fan", "Work", "Both", "Left", "Right", "Inner", "Deep", "Oops"}
    groups = {g.id: g for g in graph.groups}
    assert groups[names["Work"].group].kind == "processor"
    inner = groups[names["Deep"].group]
    assert inner.kind == "branch" and groups[inner.parent].state == names["Both"].id
    assert names["Decide"].group is None


def test_edges_of_each_kind():
    graph = definition_graph(DEFINITION)
    assert _edges(graph, "choice") == [("Decide", "Fan", "$.n NumericGreaterThan 10"),
                                       ("Decide", "Both", "($.a IsPresent true) and (not ($.b StringEquals x))")]
    assert _edges(graph, "default") == [("Decide", "Oops", "Default")]
    assert _edges(graph, "catch") == [("Fan", "Oops", "catch States.ALL")]
    assert _edges(graph, "retry") == [("Work", "Work", "retry States.Timeout x2")]
    assert _edges(graph, "items") == [("Fan", "Work", "each item")]
    assert sorted(e[:2] for e in _edges(graph, "branch")) == [("Both", "Left"), ("Both", "Right"), ("Inner", "Deep")]
    assert graph.edges[0].source == START and graph.edges[0].kind == "start"
    assert sorted(_edges(graph, "end")) == [("Both", "End", ""), ("Oops", "End", "")]
    assert all(e.target == END for e in graph.edges if e.kind == "end")


def test_jsonata_condition_is_the_expression():
    assert rule_text({"Condition": "{% $states.input.n > 3 %}", "Next": "X"}) == "$states.input.n > 3"


def test_mermaid_nests_subgraphs_and_quotes_labels():
    text = to_mermaid(definition_graph(DEFINITION))
    assert text.startswith("flowchart TD\n")
    assert text.count("subgraph ") == 4 and text.count("\n  end\n") + text.count("    end\n") >= 4
    assert 's_Decide -->|"$.n NumericGreaterThan 10"| s_Fan' in text
    assert 's_Fan -.->|"catch States.ALL"| s_Oops' in text
    quoted = to_mermaid(definition_graph({"StartAt": 'a"b', "States": {'a"b': {"Type": "Succeed"}}}))
    assert '["a#quot;b"]' in quoted


def test_dot_clusters_and_edge_styles():
    text = to_dot(definition_graph(DEFINITION))
    assert text.count("subgraph cluster_") == 4
    assert 's_Fan -> s_Oops [label="catch States.ALL", style=dashed' in text
    assert "s_Work -> s_Work [label=" in text and "style=dotted" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_svg_from_graphviz_names_every_state():
    svg = to_svg(definition_graph(DEFINITION))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for name in ("Decide", "Work", "Deep", "Oops"):
        assert f">{name}</text>" in svg


def test_no_states_is_a_graph_error():
    with pytest.raises(GraphError):
        definition_graph({"StartAt": "A"})
    with pytest.raises(GraphError):
        definition_graph({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}})


def test_cli_draws_the_training_pipeline_with_placeholders(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(graph_command, [TRAINING, "--format", "dot"])
    assert result.exit_code == 0, result.output
    assert "TrainCandidates" in result.output and "subgraph cluster_" in result.output
    out = tmp_path / "g.mmd"
    result = runner.invoke(graph_command, [TRAINING, "-o", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("flowchart TD")


def test_cli_refuses_invalid_and_unreadable(tmp_path: Path):
    runner = CliRunner()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}))
    result = runner.invoke(graph_command, [str(bad)])
    assert result.exit_code == 1 and "Missing" in result.output
    (tmp_path / "notjson.json").write_text("{")
    assert runner.invoke(graph_command, [str(tmp_path / "notjson.json")]).exit_code == 2
    assert runner.invoke(graph_command, [str(tmp_path / "absent.json")]).exit_code == 2
