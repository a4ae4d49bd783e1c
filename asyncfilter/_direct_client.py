"""What a direct transport (:mod:`._detect_direct`, :mod:`._list_direct`) borrows from an
aiobotocore client: its service model, credentials and HTTP session.

They are read from aiobotocore's private attributes, and only from a client whose requests a
direct transport reproduces exactly (SigV4, an aiohttp session, no proxy, a region); for any
other client, or another aiobotocore that moved them, :func:`borrow` gives ``None`` and the
caller keeps botocore's path. ``tests/test_detect_direct.py`` and ``tests/test_list_direct.py``
check that a sweep's clients still qualify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Borrowed:
    meta: Any
    """The client's ``meta``: endpoint, region, service model."""
    credentials: Any
    """Refreshed as the client refreshes them (``get_frozen_credentials``)."""
    http: Any
    """aiobotocore's ``AIOHTTPSession``: its aiohttp session is made lazily."""


def borrow(
    client: Any, *, service: str, signature_versions: frozenset[str], protocol: str | None = None
) -> Borrowed | None:
    """``client``'s parts, or ``None`` if a direct transport cannot stand in for it."""
    try:
        from aiobotocore.httpsession import AIOHTTPSession

        meta = client.meta
        signer = client._request_signer
        http = client._endpoint.http_session
        credentials = signer._credentials
        usable = (
            meta.service_model.service_name == service
            and (protocol is None or meta.service_model.protocol == protocol)
            and signer.signature_version in signature_versions
            and credentials is not None
            and type(http) is AIOHTTPSession
            and not http._proxy_config.proxy_url_for(meta.endpoint_url)
            and bool(meta.region_name)
        )
    except (AttributeError, ImportError):  # a fake client, or another aiobotocore
        return None
    return Borrowed(meta, credentials, http) if usable else None
