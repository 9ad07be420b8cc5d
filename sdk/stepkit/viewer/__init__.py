"""See it: a definition as a graph (``graph``) and the browser viewer of the endpoint's
executions (``api``, ``static/``), served at ``/_stepkit/ui/``."""
