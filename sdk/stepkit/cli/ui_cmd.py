"""``stepkit ui``: the execution viewer for a Step Functions endpoint elsewhere.

``stepkit up`` serves the viewer itself at ``/_stepkit/ui/``; this command serves the same
page on its own port of 127.0.0.1 for an endpoint reached through boto3 (``--endpoint-url``,
default ``$AWS_ENDPOINT_URL`` or http://127.0.0.1:4566), until interrupted.

Exit codes: 0 stopped by Ctrl-C; 2 bad usage, the port is in use, or no endpoint answers.
"""

from __future__ import annotations

import click

from stepkit.cli.endpoint_cmd import _REGION_OPTION, _URL_OPTION, _client


@click.command("ui")
@_URL_OPTION
@_REGION_OPTION
@click.option("--port", type=int, default=4567, show_default=True,
              help="The viewer's port on 127.0.0.1 (0: any free one).")
def ui_command(endpoint_url: str, region: str, port: int) -> None:
    """Serve the execution viewer for the endpoint at --endpoint-url until interrupted."""
    from werkzeug.serving import make_server

    from stepkit.endpoint.errors import AwsError
    from stepkit.endpoint.guard import RequestGuard
    from stepkit.viewer.api import ViewerApp
    from stepkit.viewer.remote import RemoteEndpoint, RemoteStepFunctions, viewer_server_app

    remote = RemoteStepFunctions(_client("stepfunctions", endpoint_url, region))
    try:
        remote.ListStateMachines({"maxResults": 1}, None)
    except AwsError as exc:
        raise click.UsageError(f"no Step Functions endpoint answers at {endpoint_url}: {exc.message}") from None
    try:
        server = make_server("127.0.0.1", port, lambda e, s: app(e, s), threaded=True)
    except (OSError, SystemExit):
        raise click.UsageError(f"port {port} on 127.0.0.1 is in use: choose another with --port") from None
    guard = RequestGuard.from_environment(server.server_port)
    endpoint = RemoteEndpoint(remote, guard, lambda service: _client(service, endpoint_url, region))
    app = guard.wrap(viewer_server_app(ViewerApp(endpoint)))
    click.echo(f"stepkit viewer of {endpoint_url} on http://127.0.0.1:{server.server_port}/_stepkit/ui/ "
               "(Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


COMMANDS = [ui_command]
