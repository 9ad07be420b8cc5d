"""``stepkit ui``: the execution viewer for a Step Functions endpoint elsewhere.

``stepkit up`` serves the viewer itself at ``/_stepkit/ui/``; this command serves the same
page on its own port of 127.0.0.1 for an endpoint reached through boto3, until interrupted.

Exit codes: 0 stopped by Ctrl-C; 2 bad usage, the port is in use, or no endpoint answers
(with ``--json``: one line with the viewer's URL once serving, or the error as JSON).
"""

from __future__ import annotations

import json

import click

from stepkit.cli.common import EXIT_USAGE, endpoint_option, fail
from stepkit.cli.common import endpoint_url as resolve_endpoint
from stepkit.cli.endpoint_cmd import region_option
from stepkit.cli.remote import client


@click.command("ui")
@endpoint_option
@region_option
@click.option("--port", type=int, default=4567, show_default=True,
              help="The viewer's port on 127.0.0.1 (0: any free one).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line (the viewer's URL) once serving.")
def ui_command(endpoint_url: str | None, region: str, port: int, as_json: bool) -> None:
    """Serve the execution viewer for the endpoint at --endpoint-url until interrupted."""
    endpoint_url = resolve_endpoint(endpoint_url)
    from werkzeug.serving import make_server

    from stepkit.endpoint.errors import AwsError
    from stepkit.endpoint.guard import RequestGuard
    from stepkit.viewer.api import ViewerApp
    from stepkit.viewer.remote import RemoteEndpoint, RemoteStepFunctions, viewer_server_app

    remote = RemoteStepFunctions(client("stepfunctions", endpoint_url, region))
    try:
        remote.ListStateMachines({"maxResults": 1}, None)
    except AwsError as exc:
        fail(f"no Step Functions endpoint answers at {endpoint_url}: {exc.message}", kind=exc.code,
             exit_code=EXIT_USAGE, endpoint_url=endpoint_url)
    try:
        server = make_server("127.0.0.1", port, lambda e, s: app(e, s), threaded=True)
    except (OSError, SystemExit):
        fail(f"port {port} on 127.0.0.1 is in use: choose another with --port", kind="PortInUse",
             exit_code=EXIT_USAGE, port=port)
    guard = RequestGuard.from_environment(server.server_port)
    endpoint = RemoteEndpoint(remote, guard, lambda service: client(service, endpoint_url, region))
    app = guard.wrap(viewer_server_app(ViewerApp(endpoint)))
    url = f"http://127.0.0.1:{server.server_port}/_stepkit/ui/"
    if as_json:
        click.echo(json.dumps({"url": url, "endpoint_url": endpoint_url}))
    else:
        click.echo(f"stepkit viewer of {endpoint_url} on {url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


COMMANDS = [ui_command]
