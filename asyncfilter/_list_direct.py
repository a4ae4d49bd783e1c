"""ListObjectsV2 without botocore's request pipeline: one signed GET, read straight into
:class:`~asyncfilter.S3Object`.

Through aiobotocore a page of 1,000 keys costs about 12 µs of client CPU a key: the request
pipeline, the page parsed into dicts (even with :mod:`._fastlist`), each key URL-decoded by an
``after-call`` handler, then each dict turned into an ``S3Object``. One core then lists at most
~80,000 keys a second however many ranges run at once. A page is a flat list of records, so this
transport signs the GET itself (:mod:`._sigv4`, checked against botocore's ``S3SigV4Auth``),
sends it on the aiohttp session the client already holds (its pool, timeouts and TLS settings),
and reads the records with one regular expression.

It only ever takes the easy road. Anything else is left to botocore, which retries by the
client's configuration and turns failures into the exceptions that
:func:`~asyncfilter._aws.listing_error` reads, so errors are still read in one place:

- :meth:`DirectListing.fetch` returns ``None`` for an answer other than a 200 or a socket
  failure, and :func:`read_page` for a page it does not fully understand (a record with nested
  fields, a cut body); the caller then asks botocore for the same page (a GET: asking again
  changes nothing);
- a redirect or a refusal (the bucket in another region, a signature S3 does not accept) turns
  the direct path off for that bucket, as botocore has to follow it anyway.

The bucket's URL (path or virtual-host style, the endpoint) is the one botocore resolves for it,
taken once per bucket from a presigned URL; the client's parts are borrowed as
:mod:`._direct_client` says.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import yarl

from ._direct_client import borrow
from ._listing import s3_object
from ._models import S3Object
from ._sigv4 import S3GetSigner, query_string

# S3's record as S3 writes it (no spaces, no checksums): the fastest to match
_TIGHT = re.compile(
    r"<Contents><Key>([^<]*)</Key><LastModified>[^<]*</LastModified>"
    r"<ETag>&quot;([^&<]*)&quot;</ETag><Size>(\d+)</Size>"
    r"<StorageClass>([^<]*)</StorageClass></Contents>"
)
# any record of those fields in S3's order, spaced out, checksums between the ETag and the size
_RECORD = re.compile(
    r"<Contents>\s*<Key>([^<]*)</Key>\s*<LastModified>[^<]*</LastModified>\s*"
    r'<ETag>(?:&quot;|&#34;|")?([^<&"]*)(?:&quot;|&#34;|")?</ETag>\s*'
    r"(?:<Checksum(?:Algorithm|Type)>[^<]*</Checksum(?:Algorithm|Type)>\s*)*"
    r"<Size>(\d+)</Size>\s*<StorageClass>([^<]*)</StorageClass>\s*</Contents>"
)
_TRUNCATED_B = re.compile(rb"<IsTruncated>\s*(true|false)\s*</IsTruncated>")
_NEXT_B = re.compile(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>")
_URL_ENCODED = "<EncodingType>url</EncodingType>"
_END = "</ListBucketResult>"
# answers after which botocore must take over the bucket: it follows redirects and reads refusals
_HAND_OVER = frozenset({301, 307, 400, 403})


@dataclass(frozen=True, slots=True)
class ListPage:
    """One ListObjectsV2 page: its objects (in key order) and where the next page starts."""

    objects: list[S3Object]
    truncated: bool
    next_token: str | None
    beyond: bool = False
    """Records after ``up_to`` (:func:`read_page`) were left out: whoever asked has its keys."""

    @classmethod
    def from_botocore(cls, bucket: str, page: dict[str, Any]) -> ListPage:
        """A page as botocore parses it."""
        return cls(
            [s3_object(bucket, item) for item in page.get("Contents", ())],
            bool(page.get("IsTruncated")),
            page.get("NextContinuationToken"),
        )


def peek(body: bytes) -> tuple[bool, str | None] | None:
    """Whether a page is truncated and its continuation token, read before its records (S3
    writes both ahead of them), so the next page can be asked for while this one is read;
    ``None`` if the body does not say."""
    truncated = _TRUNCATED_B.search(body)
    if truncated is None:
        return None
    if truncated.group(1) == b"false":
        return False, None
    found = _NEXT_B.search(body)
    if found is None:
        return None
    return True, html.unescape(found.group(1).decode())


def last_key(body: bytes) -> str | None:
    """The last key of a page, read without reading the page (``None`` if it holds none):
    a range whose page reaches its end asks for no page after it."""
    start = body.rfind(b"<Key>")
    if start < 0:
        return None
    end = body.find(b"</Key>", start)
    if end < 0:
        return None
    try:
        key = body[start + 5 : end].decode()
    except UnicodeDecodeError:
        return None
    return _url_key(key) if _URL_ENCODED.encode() in body else _xml_key(key)


def read_page(bucket: str, body: bytes, up_to: str | None = None) -> ListPage | None:
    """A ListObjectsV2 body without ``<CommonPrefixes>`` as a :class:`ListPage`, or ``None``
    if it holds anything this reader does not fully understand.

    With ``up_to``, only the records with keys up to it are read (a range's last page often
    runs past its end: at 64 ranges, a third of the records read were thrown away)."""
    following = peek(body)
    if following is None:
        return None
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return None
    if not text.rstrip().endswith(_END) or "<CommonPrefixes>" in text:
        return None
    count = text.count("<Contents>")
    records = _TIGHT.findall(text)
    if len(records) != count:
        records = _RECORD.findall(text)
        if len(records) != count:
            return None  # a record with other fields: botocore's
    encoded = _URL_ENCODED in text  # (asked for: XML cannot carry every key)
    beyond = False
    if up_to is not None and records:
        decode = _url_key if encoded else _xml_key
        if decode(records[-1][0]) > up_to:
            records = records[: bisect_right(records, up_to, key=lambda r: decode(r[0]))]
            beyond = True
    new = tuple.__new__  # S3Object's own __new__ is a Python function: a third of the cost
    if encoded:
        objects = [
            new(S3Object, (bucket, unquote_plus(k) if "%" in k or "+" in k else k, int(n), e, c))
            for k, e, n, c in records
        ]
    else:
        objects = [
            new(S3Object, (bucket, html.unescape(k) if "&" in k else k, int(n), e, c))
            for k, e, n, c in records
        ]
    return ListPage(objects, *following, beyond=beyond)


def _url_key(key: str) -> str:
    return unquote_plus(key) if "%" in key or "+" in key else key


def _xml_key(key: str) -> str:
    return html.unescape(key) if "&" in key else key


class DirectListing:
    """ListObjectsV2 pages on an aiobotocore S3 client's session and credentials."""

    def __init__(
        self, client: Any, *, region: str, credentials: Any, http: Any, user_agent: str
    ) -> None:
        self._client = client
        self._region = region
        self._credentials = credentials
        self._http = http  # aiobotocore's AIOHTTPSession: its aiohttp session is made lazily
        self._user_agent = user_agent
        self._buckets: dict[str, tuple[str, str, S3GetSigner] | None] = {}

    async def fetch(
        self,
        bucket: str,
        prefix: str,
        *,
        max_keys: int,
        start_after: str | None = None,
        token: str | None = None,
        expected_owner: str | None = None,
    ) -> bytes | None:
        """The body of one page S3 answered with a 200 (read it with :func:`read_page`), or
        ``None``: then ask botocore for it (see the module's docstring)."""
        target = await self._target(bucket)
        if target is None:
            return None
        base, path, signer = target
        params = {"list-type": "2", "encoding-type": "url", "max-keys": str(max_keys)}
        if prefix:
            params["prefix"] = prefix
        if token is not None:
            params["continuation-token"] = token
        elif start_after is not None:
            params["start-after"] = start_after
        query = query_string(params)
        headers = {"User-Agent": self._user_agent, "Accept-Encoding": "identity"}
        if expected_owner:
            headers["x-amz-expected-bucket-owner"] = expected_owner
        frozen = await self._credentials.get_frozen_credentials()
        if frozen is None or frozen.access_key is None or frozen.secret_key is None:
            return None
        headers = signer.sign(
            path, query, headers,
            access_key=frozen.access_key, secret_key=frozen.secret_key, token=frozen.token,
        )  # fmt: skip
        url = yarl.URL(f"{base}?{query}", encoded=True)  # sent exactly as signed
        try:
            session = await self._http._get_session(None)
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                status = response.status
                body: bytes = await response.read()
        except CancelledError:
            raise
        except Exception:
            return None  # botocore asks again, and retries or raises as configured
        if status != 200:
            if status in _HAND_OVER:
                self._buckets[bucket] = None
            return None
        return body

    async def _target(self, bucket: str) -> tuple[str, str, S3GetSigner] | None:
        """The bucket's URL (without query), its path as signed, and a signer for its host."""
        if bucket in self._buckets:
            return self._buckets[bucket]
        target = None
        if ":" not in bucket and "/" not in bucket:  # not an ARN (access points: botocore's)
            presigned = await self._client.generate_presigned_url(
                "list_objects_v2", Params={"Bucket": bucket}
            )
            parts = urlsplit(presigned)
            path = parts.path or "/"
            base = f"{parts.scheme}://{parts.netloc}{path}"
            target = (base, path, S3GetSigner(url=base, region=self._region, service="s3"))
        self._buckets[bucket] = target
        return target


def direct_listing(client: Any, *, user_agent: str) -> DirectListing | None:
    """A direct ListObjectsV2 on ``client``'s session and credentials, or ``None`` when
    ``client`` is configured in a way this transport does not reproduce (a proxy, another
    signature, not aiohttp) or is not an aiobotocore S3 client at all (a test's fake)."""
    parts = borrow(client, service="s3", signature_versions=frozenset({"s3v4", "v4"}))
    if parts is None:
        return None
    return DirectListing(
        client,
        region=parts.meta.region_name,
        credentials=parts.credentials,
        http=parts.http,
        user_agent=user_agent,
    )
