"""The review page: a person clears the review band in a browser, and every verdict lands in
S3 and the ledger. Start it with ``asyncfilter review`` or :func:`open_review`."""

from ._server import review_app
from ._session import Review, open_review

__all__ = ["Review", "open_review", "review_app"]
