"""A fast reader for ListObjectsV2's ``<Contents>``, plugged into botocore's parsing.

botocore builds an element tree of each page and walks it against the service model: about
60 µs of client CPU per key listed, so one core cannot list more than ~15,000 keys a second
however many paginators run. ``<Contents>`` is a flat record of a few text fields, so this
module reads those with two regular expressions (a few µs a key), hands them to botocore as
its ``customized_response_dict`` (which botocore merges into the parsed page), and removes them
from the body that botocore then parses as usual: everything else in the page (truncation,
tokens, common prefixes, errors, URL decoding of keys in ``after-call``) stays botocore's.

A page whose ``<Contents>`` hold anything other than flat text fields (``<Owner>``,
``<RestoreStatus>``, an unknown field) is left entirely to botocore. ``LastModified`` stays
text, as in the sessions asyncfilter makes (:func:`~asyncfilter._clients.session_for`): install
it only on such clients.
"""

from __future__ import annotations

import html
import re
from typing import Any

import botocore.handlers

_CONTENTS = re.compile(rb"<Contents>(.*?)</Contents>", re.S)
# S3's usual record, in S3's order, read in one match (anything else: the general path)
_USUAL = re.compile(
    rb"<Contents>\s*<Key>([^<]*)</Key>\s*<LastModified>([^<]*)</LastModified>\s*"
    rb"<ETag>([^<]*)</ETag>\s*((?:<ChecksumAlgorithm>[^<]*</ChecksumAlgorithm>\s*)*)"
    rb"(?:<ChecksumType>([^<]*)</ChecksumType>\s*)?<Size>(\d+)</Size>\s*"
    rb"<StorageClass>([^<]*)</StorageClass>\s*</Contents>"
)
_ALGORITHM = re.compile(rb"<ChecksumAlgorithm>([^<]*)</ChecksumAlgorithm>")
_FIELD = re.compile(rb"<([A-Za-z]+)>([^<]*)</\1>")
_TEXT = frozenset({"Key", "LastModified", "ETag", "StorageClass", "ChecksumType"})
_EVENT = "before-parse.s3.ListObjectsV2"
_ID = "asyncfilter-fast-listing"


def install_fast_listing(client: Any) -> None:
    """Parse this S3 client's ListObjectsV2 ``<Contents>`` with :func:`read_contents`."""
    events = client.meta.events
    check = getattr(botocore.handlers, "_handle_200_error", None)
    if check is None:  # a botocore without the check: only the reading to add
        events.register_first(_EVENT, _before_parse, unique_id=_ID)
        return

    # botocore's check for an error in a 200 response parses the whole body first; run it
    # after the <Contents> are taken out, so it parses only what is left (an <Error> body, or
    # a truncated one, is still seen and turned into a 500 to retry)
    def read_then_check(operation_model: Any, response_dict: Any, **kwargs: Any) -> None:
        if operation_model.name == "ListObjectsV2":
            _before_parse(response_dict, kwargs.get("customized_response_dict"))
        check(operation_model=operation_model, response_dict=response_dict, **kwargs)

    events.unregister("before-parse.s3.*", check)
    events.register_first("before-parse.s3.*", read_then_check, unique_id=_ID)


def _text(raw: bytes) -> str:
    value = raw.decode()
    if "&" not in value:
        return value
    value = value.replace("&quot;", '"')  # every ETag has two
    return html.unescape(value) if "&" in value else value


def read_contents(body: bytes) -> list[dict[str, Any]] | None:
    """The ``<Contents>`` of a ListObjectsV2 page as botocore would parse them, or ``None``
    if one holds something other than flat text fields."""
    return _read(body)[0]


def _read(body: bytes) -> tuple[list[dict[str, Any]] | None, bytes]:
    """The ``<Contents>`` (as :func:`read_contents`) and the body without them."""
    usual = _USUAL.findall(body)
    if len(usual) == body.count(b"<Contents>"):
        return _usual(usual), _cut(body, usual)
    items = _general(body)
    return items, (body if items is None else _CONTENTS.sub(b"", body))


def _cut(body: bytes, usual: list[tuple[bytes, ...]]) -> bytes:
    """``body`` without its ``<Contents>``: one slice when they are all side by side (S3 sends
    them so, before any ``<CommonPrefixes>``), which costs nothing per key, where the regular
    expression that removes them one by one costs more than reading them."""
    first = body.find(b"<Contents>")
    last = body.rfind(b"</Contents>")
    if first < 0 or last < 0:
        return body
    last += len(b"</Contents>")
    # the records matched hold this many tags (six elements each, and their checksum fields):
    # if the span holds no more, it holds nothing else
    checksums = body.count(b"<Checksum", first, last)
    if body.count(b"<", first, last) != 12 * len(usual) + 2 * checksums:
        return _CONTENTS.sub(b"", body)
    return body[:first] + body[last:]


def _usual(usual: list[tuple[bytes, ...]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"Key": _text(key), "LastModified": modified.decode(), "ETag": _text(etag),
         "Size": int(size), "StorageClass": storage.decode()}
        for key, modified, etag, _, _, size, storage in usual
    ]  # fmt: skip
    for item, (_, _, _, algorithms, kind, _, _) in zip(items, usual, strict=True):
        if algorithms:
            item["ChecksumAlgorithm"] = [_text(a) for a in _ALGORITHM.findall(algorithms)]
        if kind:
            item["ChecksumType"] = _text(kind)
    return items


def _general(body: bytes) -> list[dict[str, Any]] | None:
    items = []
    for block in _CONTENTS.findall(body):
        fields = _FIELD.findall(block)
        if block.count(b"<") != 2 * len(fields):
            return None  # nested elements: botocore's job
        item: dict[str, Any] = {}
        for name_raw, value in fields:
            name = name_raw.decode()
            if name in _TEXT:
                item[name] = _text(value)
            elif name == "Size":
                item[name] = int(value)
            elif name == "ChecksumAlgorithm":
                item.setdefault(name, []).append(_text(value))
            else:
                return None
        items.append(item)
    return items


def _before_parse(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any] | None, **_: Any
) -> None:
    if customized_response_dict is None or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or b"<Contents>" not in body:
        return
    items, rest = _read(body)
    if items is None:
        return
    customized_response_dict["Contents"] = items
    response_dict["body"] = rest
