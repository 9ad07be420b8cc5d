"""The batch-inference pipeline (``statemachines/batch_inference.asl.json`` is generated from it).

A CSV read by a Distributed Map in batches, each predicted by the model the champion alias names
when the run starts; then predictions.csv and summary.json from the Map Run's result files.
"""

from __future__ import annotations

from pipelines.lambdas import INVOKE, TRANSIENT, answer, fail_with_error, invoke, on_error
from stepkit import flow

#: What a run may override in its input.
DEFAULTS = {
    "bucket": "${ArtifactsBucket}",
    "model_name": "${ModelName}",
    "alias": "champion",
    "registry_prefix": "registry",
    "label_column": "target",
    "batch_size": 100,
}
#: Each run writes under predictions/<execution name>/.
OUTPUT_PREFIX = "States.Format('predictions/{}', $$.Execution.Name)"

batch_inference = flow.Workflow(
    "Defaults",
    comment=(
        "Batch inference: started by a CSV uploaded under incoming/ (the EventBridge 'Object Created' event, or "
        "{bucket, key} given directly). Reads the file with a Distributed Map (ItemReader, ItemBatcher), predicts "
        "each batch with the model the champion alias names when the run starts, writes the Map's results "
        "(ResultWriter) and then predictions.csv and summary.json under predictions/<execution name>/."
    ),
    query_language="JSONPath",
)

batch_inference.pass_("Defaults", result=DEFAULTS, result_path="$.defaults", next="WhichInput")
batch_inference.choice(
    "WhichInput",
    choices=[flow.rule(variable="$.detail.object.key", is_present=True, next="FromUploadEvent")],
    default="FromInput",
)
batch_inference.pass_(
    "FromUploadEvent",
    comment="An EventBridge 'Object Created' event of the upload.",
    parameters={
        "config.$": "$.defaults",
        "source": {"bucket.$": "$.detail.bucket.name", "key.$": "$.detail.object.key"},
        "output_prefix.$": OUTPUT_PREFIX,
    },
    next="DescribeModel",
)
batch_inference.pass_(
    "FromInput",
    comment="Started directly: {bucket, key} of the file, optionally model_name, alias, batch_size, label_column.",
    parameters={
        "config.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)",
        "source": {"bucket.$": "$.bucket", "key.$": "$.key"},
        "output_prefix.$": OUTPUT_PREFIX,
    },
    next="DescribeModel",
)
batch_inference.task(
    "DescribeModel",
    comment=("Resolve the alias once, so every batch uses the same version; a missing model fails here "
             "(ModelNotFoundError)."),
    resource=INVOKE,
    parameters=invoke("Predict", {
        "action": "describe",
        "bucket.$": "$.config.bucket",
        "registry_prefix.$": "$.config.registry_prefix",
        "model_name.$": "$.config.model_name",
        "alias.$": "$.config.alias",
    }),
    result_selector={**answer("model_name", "alias"), "version.$": "$.Payload.model_version",
                     **answer("family", "classes")},
    result_path="$.model",
    retry=[TRANSIENT],
    catch=on_error("BatchInferenceFailed"),
    next="PredictBatches",
)

batch = flow.ItemProcessor("PredictBatch",
                           processor_config=flow.processor_config(mode="DISTRIBUTED", execution_type="EXPRESS"))
batch.task(
    "PredictBatch",
    resource=INVOKE,
    parameters=invoke("Predict", {
        "bucket.$": "$.BatchInput.bucket",
        "registry_prefix.$": "$.BatchInput.registry_prefix",
        "model_name.$": "$.BatchInput.model_name",
        "version.$": "$.BatchInput.version",
        "label_column.$": "$.BatchInput.label_column",
        "records.$": "$.Items[*].values",
        "record_ids.$": "$.Items[*].row",
    }),
    result_selector=answer("model_version", "count", "predictions"),
    retry=[TRANSIENT, flow.retry(error_equals=["Sandbox.Timedout"], interval_seconds=1, max_attempts=1)],
    end=True,
)
batch_inference.map(
    "PredictBatches",
    label="PredictBatches",
    item_reader=flow.item_reader(
        resource="arn:aws:states:::s3:getObject",
        reader_config=flow.reader_config(input_type="CSV", csv_header_location="FIRST_ROW"),
        parameters={"Bucket.$": "$.source.bucket", "Key.$": "$.source.key"},
    ),
    item_selector={"row.$": "$$.Map.Item.Index", "values.$": "$$.Map.Item.Value"},
    item_batcher=flow.item_batcher(
        max_items_per_batch_path="$.config.batch_size",
        max_input_bytes_per_batch=204800,
        batch_input={
            "bucket.$": "$.config.bucket",
            "registry_prefix.$": "$.config.registry_prefix",
            "model_name.$": "$.model.model_name",
            "version.$": "$.model.version",
            "label_column.$": "$.config.label_column",
        },
    ),
    max_concurrency=4,
    tolerated_failure_percentage=0,
    item_processor=batch,
    result_writer=flow.result_writer(
        resource="arn:aws:states:::s3:putObject",
        parameters={"Bucket.$": "$.config.bucket", "Prefix.$": "$.output_prefix"},
    ),
    result_path="$.map_run",
    catch=on_error("BatchInferenceFailed"),
    next="Summarize",
)
batch_inference.task(
    "Summarize",
    comment="predictions.csv (one line per input row, in order) and summary.json from the Map Run's result files.",
    resource=INVOKE,
    parameters=invoke("Predict", {
        "action": "summarize",
        "bucket.$": "$.config.bucket",
        "registry_prefix.$": "$.config.registry_prefix",
        "model_name.$": "$.model.model_name",
        "version.$": "$.model.version",
        "result_writer.$": "$.map_run.ResultWriterDetails",
        "source.$": "$.source",
        "output_prefix.$": "$.output_prefix",
    }),
    result_selector=answer("rows", "failed_rows", "batches", "class_counts", "accuracy", "predictions", "summary"),
    result_path="$.summary",
    retry=[TRANSIENT],
    catch=on_error("BatchInferenceFailed"),
    next="Report",
)
batch_inference.pass_(
    "Report",
    parameters={
        "source.$": "$.source",
        "model.$": "$.model",
        "map_run_arn.$": "$.map_run.MapRunArn",
        "results.$": "$.map_run.ResultWriterDetails",
        "summary.$": "$.summary",
    },
    end=True,
)
fail_with_error(
    batch_inference,
    "BatchInferenceFailed",
    "ModelNotFoundError (no champion), States.ItemReaderFailed (missing or malformed file), "
    "States.ExceedToleratedFailureThreshold (a batch failed: InvalidRecordError...), States.ResultWriterFailed.",
)
