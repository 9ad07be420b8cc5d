"""A function's REST API from its Chalice app: the app is imported (as ``chalice deploy``
does) and Chalice's own ``SwaggerGenerator`` writes the API from its route table, pointed at
the function's ARN. Needs the ``api`` extra (``pip install 'stepkit[api]'``).

Chalice's built-in authorizers (``@app.authorizer``) are functions of their own in a Chalice
deployment; a stack declares its functions itself, so an app using one is refused with a
message (a ``CustomAuthorizer`` naming a deployed authorizer function is fine).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def _importable(folder: Path, layers: Sequence[Path] = ()) -> Iterator[None]:
    """The app's folder first on ``sys.path`` while it is imported, then its layers' ``python/``
    folders (as Lambda puts ``/opt/python`` there); the modules imported from them are
    forgotten afterwards, so two apps of one stack do not see each other's ``chalicelib``."""
    folders = [str(folder), *(str(layer) for layer in layers)]
    # Modules of the same top-level names imported before from elsewhere (another app's
    # ``chalicelib``) are set aside while this app imports, and put back afterwards.
    tops = {entry.name.removesuffix(".py") for f in (folder, *layers) if f.is_dir() for entry in f.iterdir()}
    shadowed = {name: module for name, module in sys.modules.items() if name.split(".")[0] in tops}
    for name in shadowed:
        del sys.modules[name]
    before = set(sys.modules)
    added = [f for f in folders if f not in sys.path]
    sys.path[0:0] = added
    try:
        yield
    finally:
        for entry in added:
            sys.path.remove(entry)
        for name in set(sys.modules) - before:
            module = sys.modules.get(name)
            if str(getattr(module, "__file__", "") or "").startswith(tuple(folders)):
                del sys.modules[name]
        sys.modules.update(shadowed)


def load_app(code_dir: Path, handler: str, layers: Sequence[Path] = ()) -> Any:
    """The ``Chalice`` object ``handler`` (``app.app``) names in ``code_dir`` (importing from the
    function's ``layers`` too); ValueError saying what is wrong otherwise."""
    try:
        from chalice import Chalice
    except ImportError:
        raise ValueError("an API needs Chalice: pip install 'stepkit[api]'") from None
    module_name, _, attribute = handler.rpartition(".")
    path = code_dir / (module_name.replace(".", "/") + ".py")
    if not path.is_file():
        raise ValueError(f"{path} does not exist (the handler {handler!r} names it)")
    unique = f"_stepkit_api_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with _importable(code_dir, layers):
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ValueError(f"importing {path.name} failed: {type(exc).__name__}: {exc}") from None
    app = getattr(module, attribute, None)
    if not isinstance(app, Chalice):
        raise ValueError(f"{handler!r} is not a Chalice app (found {type(app).__name__})")
    if app.builtin_auth_handlers:
        names = ", ".join(a.name for a in app.builtin_auth_handlers)
        raise ValueError(f"the app's built-in authorizers ({names}) are Chalice-deployed functions; declare the "
                         "authorizer as a function of the stack and use chalice.CustomAuthorizer instead")
    return app


def swagger(app: Any, region: str, function_arn: str) -> dict[str, Any]:
    """Chalice's own API definition of ``app``, every route integrated with ``function_arn``.

    Chalice takes the partition as the ARN's second ``:`` field, which breaks on the
    ``arn:${AWS::Partition}:...`` of a CloudFormation template: that one case is told apart."""
    from chalice.deploy.swagger import SwaggerGenerator

    class Generator(SwaggerGenerator):  # type: ignore[misc]
        def _uri(self, lambda_arn: str | None = None) -> str:
            arn = lambda_arn or function_arn
            partition = "${AWS::Partition}" if arn.startswith("arn:${AWS::Partition}:") else arn.split(":")[1]
            return f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"

    return Generator(region, {"api_handler_arn": function_arn}).generate_swagger(app)
