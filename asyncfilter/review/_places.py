"""Where a reviewed image rests: its copy as the sweep left it, the hit location, the rejects.

A review-band copy sits at ``REVIEW/<name>/<key>``. Accepted, it belongs where the sweep puts
its hits, ``DEST/<name>/<key>``; rejected, in ``_rejected/<name>/<key>`` beside the review
folder, kept as negatives. A hit being spot-checked stays where it is when accepted and goes to
``DEST/_rejected/<name>/<key>`` when rejected. A miss (``--outcome miss``) rests at its source
object, which the review only reads: accepted, it is copied to ``DEST/<name>/<key>``;
rejected, to ``DEST/_rejected/<name>/<key>``; undone, its copy is deleted.

The hit location is read from the ledger's own record of its sweeps (``jobs.description``
holds each sweep's ``dest`` and ``name``), so a review needs nothing typed twice; ``--dest``
overrides it, and is required when the ledger's sweeps sent one name to several places.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .._config import S3Location
from .._errors import ConfigError

REJECTED = "_rejected/"

Place = tuple[str, str]
"""``(bucket, key)``."""


@dataclass(frozen=True, slots=True)
class Places:
    """The three places an image can rest during a review."""

    origin: Place
    hit: Place
    rejected: Place

    @property
    def all(self) -> set[Place]:
        return {self.origin, self.hit, self.rejected}

    def of(self, verdict: str | None) -> Place:
        """Where the image rests when ``verdict`` (``accepted``, ``rejected``, none) is applied."""
        if verdict == "accepted":
            return self.hit
        if verdict == "rejected":
            return self.rejected
        return self.origin


def _folder_of(copy_key: str, name: str, key: str) -> str | None:
    """The folder a copy ``<folder><name>/<key>`` was made in, or ``None`` if it is not one."""
    tail = f"{name}/{key}"
    return copy_key[: -len(tail)] if copy_key.endswith(tail) else None


def _parent(folder: str) -> str:
    """``a/_review/`` -> ``a/``; ``_review/`` -> ``""``."""
    trimmed = folder.rstrip("/")
    return trimmed.rpartition("/")[0] + "/" if "/" in trimmed else ""


class PlaceResolver:
    """Works out :class:`Places` for the objects of one ledger."""

    def __init__(self, dests: Mapping[str, S3Location], override: S3Location | None) -> None:
        self._dests = dict(dests)
        self._override = override

    @classmethod
    def from_jobs(
        cls, descriptions: Iterable[str], names: Iterable[str], override: S3Location | None
    ) -> PlaceResolver:
        """Resolve each of ``names`` (the band's folders) to one destination, from the jobs'
        descriptions or ``override``; a name that cannot be resolved is a :class:`ConfigError`
        raised now, before the page is served."""
        seen: dict[str, set[str]] = {}
        for text in descriptions:
            try:
                job = json.loads(text) if text else {}
            except ValueError:
                continue
            if isinstance(job, dict) and job.get("dest") and job.get("name"):
                seen.setdefault(str(job["name"]), set()).add(str(job["dest"]))
        dests: dict[str, S3Location] = {}
        for name in names:
            if override is not None:
                continue
            found = sorted(seen.get(name, ()))
            if len(found) == 1:
                dests[name] = S3Location.parse(found[0], what="destination")
            elif not found:
                raise ConfigError(
                    f"the ledger records no sweep that copied {name!r}: pass --dest "
                    "s3://BUCKET[/PREFIX] (where its hits go)"
                )
            else:
                raise ConfigError(
                    f"the ledger's sweeps copied {name!r} to {len(found)} destinations "
                    f"({', '.join(found)}): pass --dest to choose one"
                )
        return cls(dests, override)

    def places(
        self, *, outcome: str, name: str, key: str, copy_bucket: str, copy_key: str
    ) -> Places:
        """Places of object ``key`` of class ``name`` whose copy is at ``copy_bucket/copy_key``
        and was copied there as a ``review`` or a ``hit``."""
        origin = (copy_bucket, copy_key)
        folder = _folder_of(copy_key, name, key)
        if outcome == "hit":
            base = folder if folder is not None else ""
            return Places(origin, origin, (copy_bucket, f"{base}{REJECTED}{name}/{key}"))
        dest = self._override or self._dests.get(name)
        if dest is None:
            raise ConfigError(f"no destination known for {name!r}: pass --dest")
        beside = _parent(folder) if folder is not None else ""
        return Places(
            origin,
            (dest.bucket, f"{dest.folder}{name}/{key}"),
            (copy_bucket, f"{beside}{REJECTED}{name}/{key}"),
        )

    def miss_places(self, *, name: str, bucket: str, key: str) -> Places:
        """Places of a miss ``bucket/key`` of class ``name``: it rests at its source (read,
        never written or deleted), accepted it is copied beside the hits, rejected to
        ``DEST/_rejected/<name>/<key>`` (where the band's rejects go by default)."""
        dest = self._override or self._dests.get(name)
        if dest is None:
            raise ConfigError(f"no destination known for {name!r}: pass --dest")
        return Places(
            (bucket, key),
            (dest.bucket, f"{dest.folder}{name}/{key}"),
            (dest.bucket, f"{dest.folder}{REJECTED}{name}/{key}"),
        )
