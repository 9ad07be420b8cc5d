"""The ML pipeline's model contract, shared by every function through the ``model`` Lambda layer.

One implementation of what the functions must agree on, so training and serving cannot drift:

* :mod:`mlcontract.features`: how a raw cell becomes a number, how a label is cast to text
  (:mod:`mlcontract.labels`, no numpy),
  the preprocessing (median imputation + standard scaling) fitted at training and applied at
  prediction;
* :mod:`mlcontract.bundle`: the format of ``model.joblib`` (what train writes, what
  select_model and predict load and check);
* :mod:`mlcontract.scoring`: the classification metrics (needs scikit-learn; imported only by
  the functions that have it);
* :mod:`mlcontract.aws`, :mod:`mlcontract.events`, :mod:`mlcontract.service`: the S3 client,
  event parsing and the Powertools handler wrapper every function uses;
* :mod:`mlcontract.routing`, :mod:`mlcontract.router_state`: how serving routes a request
  between model versions (champion, weighted, bandits, shadow, ensemble) and the router's
  state in DynamoDB (policies, atomic per-version counters, predictions awaiting feedback).

On Lambda the layer is extracted under ``/opt``, and ``/opt/python`` is on ``sys.path``; the
local runtime puts ``functions/layers/model/python`` there the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def contract_sha256() -> str:
    """A hash of this layer's sources: with the handler's own hash, what identifies the code
    that trained a model (the same sources give the same hash locally and in AWS)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
