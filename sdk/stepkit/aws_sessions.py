"""boto3 sessions that owe nothing to the host's AWS configuration.

The local endpoint talks to itself (its Lambda service reads code from its own S3, its
integrations call its own SQS, ...) and loads botocore's service models. None of that may
depend on how the host is set up for AWS: an ``AWS_PROFILE`` naming a profile that does not
exist makes every ordinary botocore session raise ``ProfileNotFound`` as soon as it loads a
model, an ``AWS_ENDPOINT_URL_S3`` set for another purpose would send a client elsewhere,
and a malformed ``~/.aws/config`` would break a server that needs no configuration at all.

:func:`isolated_session` is a session whose every setting is botocore's default: no
environment variable, no config file and no credentials file is read. Clients made from it
must be given their endpoint URL, region and credentials explicitly, which the endpoint's
clients always are.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES, ConfigChainFactory, ConstantProvider
from botocore.model import ServiceModel

#: Where the isolated session looks for its config and credentials files: not a regular
#: file, so botocore reads them as empty.
_NO_FILE = os.devnull
#: botocore sessions are not thread-safe while they make clients (their components are
#: created lazily); the clients they make are.
_CLIENTS_LOCK = threading.Lock()


def isolated_botocore_session() -> botocore.session.Session:
    """A new botocore session configured by its defaults only (see the module's docstring)."""
    session = botocore.session.Session()
    chains = ConfigChainFactory(session=session, environ={})
    store = session.get_component("config_store")
    for name, (_file_key, _env, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items():
        # Values set on the session itself (boto3's region_name=...) still count.
        store.set_config_provider(name, chains.create_config_chain(instance_name=name, default=default,
                                                                   conversion_func=convert))
    store.set_config_provider("config_file", ConstantProvider(_NO_FILE))
    store.set_config_provider("credentials_file", ConstantProvider(_NO_FILE))
    store.set_config_provider("ignore_configured_endpoint_urls", ConstantProvider(True))
    store.set_config_provider("s3", ConstantProvider(None))
    store.set_config_provider("proxies_config", ConstantProvider(None))
    return session


@cache
def models_session() -> botocore.session.Session:
    """One shared isolated botocore session, for service models (a model is the same
    whatever the configuration)."""
    return isolated_botocore_session()


@cache
def service_model(name: str) -> ServiceModel:
    return models_session().get_service_model(name)


@cache
def isolated_session() -> boto3.session.Session:
    """One shared boto3 session over :func:`isolated_botocore_session`."""
    return boto3.session.Session(botocore_session=isolated_botocore_session())


def make_client(session: boto3.session.Session, service: str, **options: Any) -> Any:
    """``session.client(service, **options)``, one at a time: a session creates its
    components lazily and is not thread-safe while it does (the clients it makes are)."""
    with _CLIENTS_LOCK:
        return session.client(service, **options)


def isolated_client(service: str, *, endpoint_url: str, region: str, config: Any = None) -> Any:
    """A client of ``service`` at ``endpoint_url`` with the local endpoint's test
    credentials, never routed through the host's proxy variables (the endpoint is on
    loopback)."""
    from botocore.config import Config

    direct = Config(proxies={})
    return make_client(isolated_session(), service, endpoint_url=endpoint_url, region_name=region,
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=direct if config is None else config.merge(direct))


def isolate_moto_sessions() -> None:
    """Make moto's own sessions isolated too.

    moto lists regions and service names through sessions it makes itself (``boto3.Session()``
    in ``AccountSpecificBackend.get_session``, botocore's ``Session()`` when it looks up an
    error's service). Those read the host's configuration: a missing ``AWS_PROFILE`` makes
    every request to a moto-served service fail with ``ProfileNotFound`` (moto's advice is to
    remove the variable, getmoto/moto#5469). The lists are the same whatever the
    configuration, so the isolated session gives them. Idempotent; process-wide, as moto is.
    """
    from moto.core import base_backend, utils

    base_backend.AccountSpecificBackend.get_session = classmethod(lambda cls: isolated_session())  # type: ignore[method-assign,assignment]
    utils.Session = isolated_botocore_session
