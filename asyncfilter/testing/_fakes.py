"""In-process fakes for the three services a sweep uses: no HTTP, no AWS, no event-loop cost
beyond one checkpoint per call.

They are the seam for unit tests and for measuring the engine's own overhead::

    report = await scan(config, lister=FakeLister.numbered(10_000),
                        detector=FakeDetector.every(10, hit=[Label("Robin", 99.0)]),
                        copier=FakeCopier())
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from itertools import islice

import anyio

from .._errors import ImageFailed
from .._models import Detection, Label, S3Object


class FakeLister:
    """Lists a fixed or generated sequence of objects, a page at a time."""

    def __init__(self, objects: Iterable[S3Object], *, page_size: int = 1000) -> None:
        self._objects = objects
        self._page_size = page_size

    @classmethod
    def numbered(
        cls, count: int, *, bucket: str = "source", size: int = 50_000, suffix: str = ".jpg"
    ) -> FakeLister:
        """``count`` objects named ``img-00000000.jpg`` ..., generated lazily (flat memory)."""
        return cls(S3Object(bucket, f"img-{i:08d}{suffix}", size) for i in range(count))

    async def pages(self, bucket: str, prefix: str) -> AsyncIterator[Sequence[S3Object]]:
        iterator = iter(self._objects)
        while page := [o for o in islice(iterator, self._page_size) if o.key.startswith(prefix)]:
            await anyio.lowlevel.checkpoint()
            yield page


class FakeDetector:
    """Answers from a function of the object; raises what the function raises.

    ``calls`` counts every call, so tests can assert how many were paid.
    """

    def __init__(self, answer: Callable[[S3Object], Sequence[Label]]) -> None:
        self._answer = answer
        self.calls = 0

    @classmethod
    def from_mapping(
        cls, labels: Mapping[str, Sequence[Label]], *, errors: Mapping[str, str] | None = None
    ) -> FakeDetector:
        """Labels by key (unknown keys get none); ``errors`` maps keys to an error code."""
        failing = dict(errors or {})

        def answer(obj: S3Object) -> Sequence[Label]:
            if obj.key in failing:
                raise ImageFailed(failing[obj.key], "injected by FakeDetector")
            return labels.get(obj.key, ())

        return cls(answer)

    @classmethod
    def every(cls, n: int, *, hit: Sequence[Label], miss: Sequence[Label] = ()) -> FakeDetector:
        """Every ``n``-th call returns ``hit``, the others ``miss``."""
        hit, miss = tuple(hit), tuple(miss)
        count = 0

        def answer(obj: S3Object) -> Sequence[Label]:
            nonlocal count
            count += 1
            return hit if count % n == 0 else miss

        return cls(answer)

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        labels = [lb for lb in self._answer(obj) if lb.confidence >= min_confidence]
        return Detection(labels[:max_labels] if max_labels is not None else labels)


class FakeCopier:
    """Records copies as ``(source_key, dest_bucket, dest_key)`` instead of making them, and
    deletes as ``(bucket, key)``."""

    def __init__(self, *, fail: Mapping[str, str] | None = None) -> None:
        self.copies: list[tuple[str, str, str]] = []
        self.objects: dict[tuple[str, str], bytes] = {}
        """What :meth:`put` wrote, by ``(bucket, key)``."""
        self.deletes: list[tuple[str, str]] = []
        self._fail = dict(fail or {})

    async def copy(self, obj: S3Object, dest_bucket: str, dest_key: str) -> None:
        await anyio.lowlevel.checkpoint()
        if obj.key in self._fail:
            raise ImageFailed(self._fail[obj.key], "injected by FakeCopier")
        self.copies.append((obj.key, dest_bucket, dest_key))

    async def put(self, bucket: str, key: str, body: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        self.objects[bucket, key] = body

    async def delete(self, bucket: str, key: str) -> None:
        await anyio.lowlevel.checkpoint()
        self.deletes.append((bucket, key))
        self.objects.pop((bucket, key), None)
