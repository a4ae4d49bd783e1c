"""What asyncfilter's requests say they are, written once.

botocore's clients send ``asyncfilter/<version>`` as their extra part (:data:`USER_AGENT`); the
direct transports, which send requests themselves, name the operation they stand in for and the
libraries under them, as botocore's own string does (:func:`direct_user_agent`).
"""

from __future__ import annotations

import platform

import aiohttp
import botocore

from ._version import __version__

USER_AGENT = f"asyncfilter/{__version__}"


def direct_user_agent(transport: str) -> str:
    """The User-Agent of a direct transport, e.g. ``direct-list-objects-v2``."""
    return (
        f"{USER_AGENT} {transport} botocore/{botocore.__version__} "
        f"aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
    )
