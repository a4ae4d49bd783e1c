"""The review page: a person clears the review band in a browser, and every verdict lands in
S3 and the ledger. Start it with ``asyncfilter review`` or :func:`open_review`; to mount the
page in your own aiohttp service, ``open_review(..., serve=False)`` and add ``review.app``."""

from ._session import Review, open_review

__all__ = ["Review", "open_review"]
