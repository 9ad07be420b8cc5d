"""The repository's ML pipelines written in Python with stepkit.flow.

``statemachines/<name>.asl.json`` is generated from ``pipelines/<name>.py`` (``make pipelines``,
or ``stepkit compile pipelines.<name>:<name> -o statemachines/<name>.asl.json``), and
``tests/unit/pipelines`` fails when the two disagree. The pipelines call the stack's functions
(``functions/``) by their ``${<Function>FunctionArn}``, as the definition files do, so the stack
keeps naming the generated files.
"""
