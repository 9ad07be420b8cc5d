"""The training pipeline (``statemachines/training.asl.json`` is generated from it).

Preprocess a CSV dataset, train a grid of candidates in parallel, select the best, and register
it in the S3 model registry if it beats the champion by a margin.
"""

from __future__ import annotations

from pipelines.lambdas import INVOKE, TRANSIENT, answer, fail_with_error, invoke, on_error
from stepkit import flow

#: The hyperparameter grid a run trains unless its input gives one.
GRID = [
    {"id": "logreg-c0.1", "family": "logistic_regression", "params": {"C": 0.1}},
    {"id": "logreg-c1", "family": "logistic_regression", "params": {"C": 1.0}},
    {"id": "rf-100-d6", "family": "random_forest", "params": {"n_estimators": 100, "max_depth": 6}},
    {"id": "rf-200-full", "family": "random_forest", "params": {"n_estimators": 200}},
    {"id": "gb-100-lr0.1", "family": "gradient_boosting", "params": {"n_estimators": 100, "learning_rate": 0.1}},
    {"id": "gb-200-lr0.05", "family": "gradient_boosting",
     "params": {"n_estimators": 200, "learning_rate": 0.05, "max_depth": 2}},
]

#: What a run may override in its input.
DEFAULTS = {
    "bucket": "${ArtifactsBucket}",
    "model_name": "${ModelName}",
    "registry_prefix": "registry",
    "target_column": "target",
    "seed": 42,
    "validation_fraction": 0.2,
    "test_fraction": 0.2,
    "metric": "balanced_accuracy",
    "min_score": 0.8,
    "margin": 0.005,
    "max_failed_candidates": 2,
    "max_concurrency": 4,
    "grid": GRID,
    "rollout": True,
    "rollout_input": {},
}

training = flow.Workflow(
    "Defaults",
    comment=(
        "Training pipeline: preprocess a CSV dataset, train a grid of candidates in parallel, select the best, and "
        "register it in the S3 model registry if it beats the champion by a margin. Started by a CSV uploaded under "
        "datasets/ (the EventBridge 'Object Created' event: the dataset is $.detail.object.key of "
        "$.detail.bucket.name, every setting its default) or directly with {dataset_key, and optionally model_name, "
        "target_column, grid, metric, min_score, margin, max_failed_candidates, max_concurrency, seed, "
        "validation_fraction, test_fraction, bucket}."
    ),
    query_language="JSONPath",
)

# --- the run's settings -------------------------------------------------------------------------

training.pass_(
    "Defaults",
    comment="What a run may override in its input; merged with it by Configure.",
    result=DEFAULTS,
    result_path="$.defaults",
    next="WhichInput",
)
training.choice(
    "WhichInput",
    choices=[flow.rule(variable="$.detail.object.key", is_present=True, next="FromUploadEvent")],
    default="FromInput",
)
training.pass_(
    "FromUploadEvent",
    comment=("An EventBridge 'Object Created' event of the upload: the dataset is the uploaded object, every "
             "setting its default."),
    parameters={
        "defaults.$": "$.defaults",
        "request": {"dataset_key.$": "$.detail.object.key", "bucket.$": "$.detail.bucket.name"},
    },
    next="Configure",
)
training.pass_(
    "FromInput",
    comment="Started directly: the execution's input is the request, {dataset_key, ...overrides of the defaults}.",
    parameters={"defaults.$": "$.defaults", "request.$": "$$.Execution.Input"},
    next="Configure",
)
training.pass_(
    "Configure",
    parameters={"config.$": "States.JsonMerge($.defaults, $.request, false)"},
    next="CheckInput",
)
training.choice(
    "CheckInput",
    choices=[
        flow.rule(variable="$.config.dataset_key", is_present=False, next="MissingDataset"),
        flow.rule(variable="$.config.grid[0]", is_present=False, next="EmptyGrid"),
    ],
    default="Preprocess",
)
training.fail(
    "MissingDataset",
    error="InvalidInput",
    cause="The input needs dataset_key: the key of a CSV dataset in the artifacts bucket.",
)
training.fail(
    "EmptyGrid",
    error="InvalidInput",
    cause="The hyperparameter grid is empty: give at least one {family, params} candidate.",
)

# --- preprocess, then train every candidate -------------------------------------------------------

training.task(
    "Preprocess",
    comment="Validate, clean, split (seeded) and scale the dataset; write the splits and a manifest.",
    resource=INVOKE,
    parameters=invoke("Preprocess", {
        "bucket.$": "$.config.bucket",
        "dataset_key.$": "$.config.dataset_key",
        "run_id.$": "$$.Execution.Name",
        "target_column.$": "$.config.target_column",
        "validation_fraction.$": "$.config.validation_fraction",
        "test_fraction.$": "$.config.test_fraction",
        "seed.$": "$.config.seed",
    }),
    result_selector=answer("manifest_key", "dataset", "rows", "classes", "n_features"),
    result_path="$.preprocess",
    retry=[TRANSIENT],
    catch=on_error("PreprocessFailed"),
    next="TrainCandidates",
)
fail_with_error(training, "PreprocessFailed",
                "The dataset could not be preprocessed (DatasetSchemaError, DatasetNotFoundError, ...).")

candidate = flow.ItemProcessor("Train", processor_config=flow.processor_config(mode="INLINE"))
candidate.task(
    "Train",
    resource=INVOKE,
    parameters=invoke("Train", "$"),
    result_selector=answer("status", "candidate_id", "family", "params", "artifact_key", "artifact_sha256",
                           "metrics_key", "lineage_key", "validation", "train_seconds"),
    retry=[TRANSIENT],
    catch=[flow.catch(error_equals=["States.ALL"], result_path="$.failure", next="CandidateFailed")],
    end=True,
)
candidate.pass_(
    "CandidateFailed",
    comment=("Training raised (TrainingFailedError, InvalidHyperparametersError), timed out (Sandbox.Timedout) or "
             "ran out of retries: recorded as a failed candidate."),
    parameters={"status": "FAILED", "candidate.$": "$.candidate", "error.$": "$.failure.Error",
                "cause.$": "$.failure.Cause"},
    end=True,
)
training.map(
    "TrainCandidates",
    comment="One train invocation per candidate of the grid. A failing candidate is caught and recorded, not fatal.",
    items_path="$.config.grid",
    max_concurrency_path="$.config.max_concurrency",
    item_selector={
        "bucket.$": "$.config.bucket",
        "run_id.$": "$$.Execution.Name",
        "manifest_key.$": "$.preprocess.manifest_key",
        "seed.$": "$.config.seed",
        "candidate.$": "$$.Map.Item.Value",
    },
    item_processor=candidate,
    result_path="$.candidates",
    next="CandidateStatuses",
)

# --- how many failed: too many fails the run ------------------------------------------------------

status = flow.ItemProcessor("Status", processor_config=flow.processor_config(mode="INLINE"))
status.pass_("Status", output_path="$.status", end=True)
training.map(
    "CandidateStatuses",
    comment=("Which statuses the candidates have, so that SortResults filters by a status only when some candidate "
             "has it."),
    items_path="$.candidates",
    item_processor=status,
    result_selector={
        "any_failed.$": "States.ArrayContains($, 'FAILED')",
        "any_succeeded.$": "States.ArrayContains($, 'SUCCEEDED')",
    },
    result_path="$.statuses",
    next="SortResults",
)
training.choice(
    "SortResults",
    comment=("Split the candidates by status. A JSONPath filter that matches nothing gives [] on AWS (and stepkit) "
             "but fails the execution on LocalStack 4.9.2, so the filters run only when both statuses occur."),
    choices=[
        flow.rule(variable="$.statuses.any_failed", boolean_equals=False, next="AllSucceeded"),
        flow.rule(variable="$.statuses.any_succeeded", boolean_equals=False, next="AllFailed"),
    ],
    default="SomeFailed",
)
training.pass_("AllSucceeded", parameters={"succeeded.$": "$.candidates", "failed": []},
               result_path="$.by_status", next="CountResults")
training.pass_("AllFailed", parameters={"succeeded": [], "failed.$": "$.candidates"},
               result_path="$.by_status", next="CountResults")
training.pass_(
    "SomeFailed",
    parameters={
        "succeeded.$": "$.candidates[?(@.status == 'SUCCEEDED')]",
        "failed.$": "$.candidates[?(@.status == 'FAILED')]",
    },
    result_path="$.by_status",
    next="CountResults",
)
training.pass_(
    "CountResults",
    parameters={
        "total.$": "States.ArrayLength($.candidates)",
        "succeeded.$": "States.ArrayLength($.by_status.succeeded)",
        "failed.$": "States.ArrayLength($.by_status.failed)",
    },
    result_path="$.counts",
    next="EnoughCandidates",
)
training.choice(
    "EnoughCandidates",
    comment=("The tolerated-failure threshold: more than max_failed_candidates failures (or none succeeding) fails "
             "the run."),
    choices=[
        flow.rule(variable="$.counts.succeeded", numeric_equals=0, next="TooManyCandidatesFailed"),
        flow.rule(variable="$.counts.failed", numeric_greater_than_path="$.config.max_failed_candidates",
                  next="TooManyCandidatesFailed"),
    ],
    default="SelectModel",
)
training.fail(
    "TooManyCandidatesFailed",
    error="TooManyCandidatesFailed",
    cause_path=("States.Format('{} of {} candidates failed (at most {} tolerated). First failure: {}: {}', "
                "$.counts.failed, $.counts.total, $.config.max_failed_candidates, $.by_status.failed[0].error, "
                "$.by_status.failed[0].cause)"),
)

# --- select the best, and register it if it beats the champion ------------------------------------

training.task(
    "SelectModel",
    comment="Rank by validation metric, score the best and the champion on the same test rows.",
    resource=INVOKE,
    parameters=invoke("SelectModel", {
        "bucket.$": "$.config.bucket",
        "run_id.$": "$$.Execution.Name",
        "manifest_key.$": "$.preprocess.manifest_key",
        "model_name.$": "$.config.model_name",
        "registry_prefix.$": "$.config.registry_prefix",
        "metric.$": "$.config.metric",
        "candidates.$": "$.candidates",
    }),
    result_selector=answer("metric", "ranking", "best", "best_test_score", "has_champion", "champion_comparable",
                           "champion_version", "champion_test_score", "champion", "improvement", "selection_key"),
    result_path="$.selection",
    retry=[TRANSIENT],
    catch=on_error("SelectionFailed"),
    next="PromoteOrKeep",
)
fail_with_error(training, "SelectionFailed",
                "Selection failed (ModelNotFoundError for a champion whose files are gone, ModelIntegrityError, ...).")
training.choice(
    "PromoteOrKeep",
    comment=("Register when the best candidate reaches min_score and beats the champion by at least margin (or "
             "there is no champion: the first model is champion directly)."),
    choices=[
        flow.rule(variable="$.selection.best_test_score", numeric_less_than_path="$.config.min_score",
                  next="BelowMinimumScore"),
        flow.rule(variable="$.selection.has_champion", boolean_equals=False, next="RegisterModel"),
        flow.rule(variable="$.selection.champion_comparable", boolean_equals=False, next="ChampionNotComparable"),
        flow.rule(variable="$.selection.improvement", numeric_greater_than_equals_path="$.config.margin",
                  next="RolloutOrPromote"),
    ],
    default="NotBetterByMargin",
)


def kept(name: str, reason: str) -> None:
    """A Pass state: nothing registered, and why (a States.Format call)."""
    training.pass_(name, parameters={"registered": False, "promoted": False, "reason.$": reason},
                   result_path="$.outcome", next="Report")


kept("BelowMinimumScore",
     "States.Format('The best candidate {} scored {} ({} on the test split), below the minimum score {}: nothing "
     "was registered and the champion (version {}) stays.', $.selection.best.candidate_id, "
     "$.selection.best_test_score, $.selection.metric, $.config.min_score, $.selection.champion_version)")
kept("ChampionNotComparable",
     "States.Format('The champion (version {}) cannot be scored on this dataset ({}): nothing was registered; use "
     "another model_name for a model of these features.', $.selection.champion_version, "
     "$.selection.champion.reason)")
kept("NotBetterByMargin",
     "States.Format('The best candidate {} scored {} ({} on the test split); the champion (version {}) scored {} on "
     "the same rows. The improvement {} is less than the margin {}, so the champion stays.', "
     "$.selection.best.candidate_id, $.selection.best_test_score, $.selection.metric, $.selection.champion_version, "
     "$.selection.champion_test_score, $.selection.improvement, $.config.margin)")



def register(name: str, alias: str, next: str, comment: str) -> None:
    """Register the best candidate under ``alias``, with conditional writes: a lost race raises
    RegistryConflictError, retried after re-reading the registry."""
    training.task(
        name,
        comment=comment,
        resource=INVOKE,
        parameters=invoke("RegisterModel", {
            "bucket.$": "$.config.bucket",
            "registry_prefix.$": "$.config.registry_prefix",
            "model_name.$": "$.config.model_name",
            "run_id.$": "$$.Execution.Name",
            "metric.$": "$.selection.metric",
            "alias": alias,
            "expected_champion_version.$": "$.selection.champion_version",
            "candidate.$": "$.selection.best",
        }),
        result_selector={"registered": True, **answer("promoted", "reason", "version", "alias", "previous_champion",
                                                      "version_key", "artifact_key")},
        result_path="$.outcome",
        retry=[
            TRANSIENT,
            flow.retry(error_equals=["RegistryConflictError"], interval_seconds=1, max_attempts=3, backoff_rate=2.0,
                       jitter_strategy="FULL"),
        ],
        catch=on_error("RegistrationFailed"),
        next=next,
    )


register("RegisterModel", "champion", "Report",
         "Conditional writes: a lost race raises RegistryConflictError, retried after re-reading the registry.")
fail_with_error(training, "RegistrationFailed",
                "The registry was left as it was (conditional writes; this attempt's files removed).")

# --- a better challenger goes live through the rollout state machine ----------------------------------

training.choice(
    "RolloutOrPromote",
    comment=("A better candidate than the champion: registered as challenger and rolled out on live traffic "
             "(rollout: true, the default), or made champion at once (rollout: false)."),
    choices=[flow.rule(variable="$.config.rollout", boolean_equals=True, next="RegisterChallenger")],
    default="RegisterModel",
)
register("RegisterChallenger", "challenger", "RolloutInput",
         "Registered as challenger: the rollout state machine decides from live metrics whether it becomes champion.")
training.pass_(
    "RolloutInput",
    comment=("The rollout's input: the two versions, merged with the run's rollout_input (wait_seconds, steps, "
             "margins...)."),
    parameters={
        "model_name.$": "$.config.model_name",
        "bucket.$": "$.config.bucket",
        "registry_prefix.$": "$.config.registry_prefix",
        "champion.$": "$.selection.champion_version",
        "challenger.$": "$.outcome.version",
    },
    result_path="$.rollout_base",
    next="StartRollout",
)
training.task(
    "StartRollout",
    comment="Start the rollout (canary share, live metrics, promote or roll back) without waiting for it.",
    resource="arn:aws:states:::states:startExecution",
    parameters={
        "StateMachineArn": "${RolloutStateMachineArn}",
        "Input.$": "States.JsonMerge($.rollout_base, $.config.rollout_input, false)",
    },
    result_selector={"execution_arn.$": "$.ExecutionArn"},
    result_path="$.rollout",
    retry=[flow.retry(error_equals=["States.ALL"], interval_seconds=1, max_attempts=3, backoff_rate=2.0,
                      jitter_strategy="FULL")],
    catch=on_error("RegistrationFailed"),
    next="ChallengerOutcome",
)
training.pass_(
    "ChallengerOutcome",
    parameters={
        "registered": True,
        "promoted": False,
        "rollout_started": True,
        "reason.$": ("States.Format('version {} registered as challenger; the rollout {} gives it live traffic step "
                     "by step', $.outcome.version, $.rollout.execution_arn)"),
        "version.$": "$.outcome.version",
        "alias.$": "$.outcome.alias",
        "previous_champion.$": "$.outcome.previous_champion",
        "version_key.$": "$.outcome.version_key",
        "artifact_key.$": "$.outcome.artifact_key",
        "rollout_execution_arn.$": "$.rollout.execution_arn",
    },
    result_path="$.outcome",
    next="Report",
)

# --- the report ------------------------------------------------------------------------------------

training.pass_(
    "Report",
    parameters={
        "run_id.$": "$$.Execution.Name",
        "model_name.$": "$.config.model_name",
        "dataset.$": "$.preprocess.dataset",
        "rows.$": "$.preprocess.rows",
        "manifest_key.$": "$.preprocess.manifest_key",
        "metric.$": "$.selection.metric",
        "candidates.$": "$.counts",
        "failures.$": "$.by_status.failed",
        "ranking.$": "$.selection.ranking",
        "best.$": "$.selection.best",
        "champion.$": "$.selection.champion",
        "improvement.$": "$.selection.improvement",
        "selection_key.$": "$.selection.selection_key",
        "outcome.$": "$.outcome",
    },
    next="Outcome",
)
training.choice(
    "Outcome",
    choices=[
        flow.rule(variable="$.outcome.rollout_started", is_present=True, next="RolloutStarted"),
        flow.rule(variable="$.outcome.promoted", boolean_equals=True, next="NewChampion"),
        flow.rule(variable="$.outcome.registered", boolean_equals=True, next="RegisteredAsChallenger"),
    ],
    default="ChampionStays",
)
training.succeed("NewChampion", comment="The best candidate is the registry's new champion.")
training.succeed(
    "RegisteredAsChallenger",
    comment="Another run promoted a champion meanwhile: registered as challenger (outcome.reason says why).",
)
training.succeed(
    "RolloutStarted",
    comment=("The best candidate beat the champion: registered as challenger, its rollout started "
             "(outcome.rollout_execution_arn)."),
)
training.succeed("ChampionStays", comment="Nothing registered; outcome.reason says why the champion stays.")
