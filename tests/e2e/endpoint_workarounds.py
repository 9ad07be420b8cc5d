"""Work-arounds, for the end-to-end tests, of the local endpoint's bugs that
``test_endpoint_bugs.py`` shows (and that the endpoint's owner is to fix). Each one does
nothing once its bug is fixed; remove it then.
"""

from __future__ import annotations

from typing import Any

import pytest


def eventbridge_configuration_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug 2: GetBucketNotificationConfiguration leaves out ``EventBridgeConfiguration``:
    have the in-process moto answer it as AWS does when the bucket has it."""
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def echoing(self: Any) -> Any:
        status, headers, body = original(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        text = body.decode() if isinstance(body, bytes) else body
        if config is None or config.event_bridge is None or "EventBridgeConfiguration" in text:
            return status, headers, body
        text = text.rstrip()
        if text.endswith("/>"):  # an otherwise empty <NotificationConfiguration .../>
            text = text[:-2] + "><EventBridgeConfiguration/></NotificationConfiguration>"
        else:
            text = text.replace("</NotificationConfiguration>",
                                "<EventBridgeConfiguration/></NotificationConfiguration>")
        return status, headers, text.encode() if isinstance(body, bytes) else text

    monkeypatch.setattr(S3Response, "get_bucket_notification", echoing)
