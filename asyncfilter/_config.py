"""Configuration: parsed and validated once, when it is built, never on the hot path.

Every check raises :class:`ConfigError` with a message that names the field, what it was and
what is allowed, so the CLI can print it as one line before anything is listed or paid.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field

from ._errors import ConfigError
from ._pricing import DEFAULT_PRICES, PriceTable
from ._results import StopReason

#: Rekognition reads S3 objects up to this size.
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def validate_bucket_name(name: str) -> str:
    """Return ``name`` if it is a valid S3 bucket name, else raise :class:`ConfigError`."""
    if (
        not _BUCKET_RE.match(name)
        or ".." in name
        or _IP_RE.match(name)
        or ".-" in name
        or ("-." in name)
    ):
        raise ConfigError(
            f"invalid bucket name {name!r}: use 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and an optional key prefix: ``s3://bucket/prefix``."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str, *, what: str = "location") -> S3Location:
        """Parse ``s3://bucket[/prefix]``; the error names ``what`` (e.g. "source")."""
        if not isinstance(url, str) or not url.startswith("s3://"):
            raise ConfigError(f"{what} must be an s3:// URL like s3://bucket/prefix, got {url!r}")
        rest = url[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ConfigError(f"{what} URL {url!r} has no bucket name")
        validate_bucket_name(bucket)
        return cls(bucket, prefix)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def folder(self) -> str:
        """The prefix as a folder: empty, or ending in exactly one ``/``."""
        return self.prefix.rstrip("/") + "/" if self.prefix.strip("/") else ""


def _positive_int(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")


def _positive_float(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanConfig:
    """Everything one sweep needs to know. Frozen and validated when built.

    ``source`` and ``dest`` accept ``s3://`` URLs or :class:`S3Location`.
    """

    source: S3Location
    dest: S3Location
    labels: tuple[str, ...]
    threshold: float = 80.0
    review_threshold: float | None = None
    """Lower edge of the review band: an image whose best wanted label has a confidence in
    ``[review_threshold, threshold)`` is copied to :attr:`review` for a person to decide, and
    does not count toward the target. ``None``: no band, such images are misses."""
    miss_floor: float | None = None
    """Ask DetectLabels for labels down to this confidence (below the band), so that a miss
    whose wanted label was seen faintly keeps it in its stored answer, for a person to hunt
    false negatives (``asyncfilter review --outcome miss``). What is a hit, a review or a miss
    does not change; the cache knows each answer's MinConfidence, so nothing is paid twice."""
    review: S3Location | None = None
    """Where review-band images go (as ``<name>/<key>`` under it); default
    ``DEST[/PREFIX]/_review``."""
    name: str | None = None
    target: int | None = None
    max_scan: int | None = None
    miss_cutoff: int | None = None
    concurrency: int = 32
    tps: float | None = 50.0
    """Calls per second sent to DetectLabels; ``None`` means unlimited (fakes, benchmarks)."""
    adaptive: bool = True
    """Halve the rate on throttling and creep back (AIMD); ``False`` keeps ``tps`` fixed."""
    queue_size: int | None = None
    """Listed objects buffered ahead of the workers; default four per worker."""
    max_labels: int | None = None
    max_attempts: int = 8
    """Calls per image before a throttled or failing image is recorded as an error."""
    retry_base_s: float = 0.1
    retry_cap_s: float = 10.0
    request_timeout_s: float = 30.0
    s3_max_attempts: int = 5
    """Attempts per S3 request (botocore's standard retries: SlowDown, 5xx, resets). A listing
    page that still fails after them stops the sweep; a copy that does is an error."""
    page_size: int = 1000
    """Keys asked for per ListObjectsV2 page (S3 returns at most 1,000)."""
    list_concurrency: int = 64
    """ListObjectsV2 paginators listing parts of the source at once (1: one paginator). At
    S3's 50-150 ms a page, 64 keep one core busy reading pages (BENCHMARKS.md: 16 ran at half
    the rate)."""
    inventory: str | None = None
    """Read the listing from this S3 Inventory report instead of ListObjectsV2: an
    ``s3://.../manifest.json``, or the inventory configuration's destination
    (``s3://DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/``), where the newest report is taken."""
    copy_grace_s: float = 30.0
    """How long a copy already in flight may take to finish once the sweep is stopping."""
    call_grace_s: float = 60.0
    """How long a DetectLabels call already sent may take to be answered once the sweep is
    stopping or cancelled: it is paid for, so its answer is waited for and recorded."""
    budget_usd: float | None = None
    """Stop before a call would take the estimated spend (across resumed runs) past this."""
    prices: PriceTable = DEFAULT_PRICES
    state: str | None = None
    """Path of the ledger (SQLite). ``None``: no ledger, every run pays for every image."""
    region: str | None = None
    profile: str | None = None
    s3_endpoint_url: str | None = None
    rekognition_endpoint_url: str | None = None
    expected_bucket_owner: str | None = None
    """An account id sent as ExpectedBucketOwner on every S3 call, so that a bucket name that
    now belongs to someone else is refused by S3 instead of read or written."""
    max_error_rate: float | None = None
    """Stop (abort) when more than this share of the last ``error_window`` decided images
    that were sent ended in an error: a sweep that mostly fails is pointless."""
    error_window: int = 50
    order: str | None = None
    """``"random"``: list everything first, then sweep in the order of a keyed hash of each key,
    so every prefix of the sweep is a uniform sample (the hit-rate estimate needs it);
    ``"listing"``: stream in listing order. Default: random with a ledger, else listing."""
    seed: int | None = None
    """The random order's key. Default: derived from the sweep's identity, so that a resumed
    sweep continues the same order."""
    min_hit_rate: float | None = None
    """Stop (``low_hit_rate``) once the 95% confidence sequence says the share of hits is
    below this, e.g. 0.05."""
    deliver: bool = True
    """Copy hits and review images. ``False`` only asks and records the answers (what
    ``plan --sample`` does), so that a later sweep copies from them without paying again."""
    dedupe: bool = True
    """Pay once per distinct image: objects with the same size and ETag get one answer."""
    preflight: bool = True
    """Check before paying that both buckets exist and are reachable."""
    wanted: frozenset[str] = field(init=False, repr=False)
    review_location: S3Location = field(init=False, repr=False)
    """Where review-band images go: :attr:`review`, or ``DEST[/PREFIX]/_review`` (worked out
    once here, not per image)."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.source, str):
            set_(self, "source", S3Location.parse(self.source, what="source"))
        if isinstance(self.dest, str):
            set_(self, "dest", S3Location.parse(self.dest, what="destination"))
        if isinstance(self.review, str):
            set_(self, "review", S3Location.parse(self.review, what="review location"))
        if isinstance(self.labels, str):
            set_(self, "labels", (self.labels,))
        labels = tuple(self.labels)
        if not labels:
            raise ConfigError("at least one label is required (--label)")
        for label in labels:
            if not isinstance(label, str) or not label.strip():
                raise ConfigError(f"labels must be non-empty text, got {label!r}")
        set_(self, "labels", tuple(label.strip() for label in labels))
        set_(self, "wanted", frozenset(label.casefold() for label in self.labels))
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | float)
            or not 0 <= self.threshold <= 100
        ):
            raise ConfigError(f"threshold must be between 0 and 100, got {self.threshold!r}")
        if self.review_threshold is not None and (
            isinstance(self.review_threshold, bool)
            or not isinstance(self.review_threshold, int | float)
            or not 0 <= self.review_threshold < self.threshold
        ):
            raise ConfigError(
                f"review threshold must be at least 0 and below the threshold ({self.threshold:g}),"
                f" got {self.review_threshold!r}"
            )
        if self.miss_floor is not None and (
            isinstance(self.miss_floor, bool)
            or not isinstance(self.miss_floor, int | float)
            or not 0 <= self.miss_floor < self.match_floor
        ):
            raise ConfigError(
                f"miss floor must be at least 0 and below {self.match_floor:g} (the lowest "
                f"confidence that matches), got {self.miss_floor!r}"
            )
        if self.review is not None and self.review_threshold is None:
            raise ConfigError("a review location needs a review threshold (--review-threshold)")
        if self.name is not None and (not self.name.strip() or "/" in self.name):
            raise ConfigError(f"name must be non-empty and contain no '/', got {self.name!r}")
        for int_field in ("target", "max_scan", "miss_cutoff", "queue_size", "max_labels"):
            _positive_int(int_field, getattr(self, int_field))
        _positive_int("concurrency", self.concurrency)
        _positive_int("max_attempts", self.max_attempts)
        _positive_int("s3_max_attempts", self.s3_max_attempts)
        _positive_int("page_size", self.page_size)
        if self.page_size > 1000:
            raise ConfigError(f"page_size must be at most 1000 (S3's limit), got {self.page_size}")
        _positive_int("list_concurrency", self.list_concurrency)
        if self.inventory is not None:
            S3Location.parse(self.inventory, what="inventory")
        _positive_float("tps", self.tps)
        for float_field in (
            "retry_base_s",
            "retry_cap_s",
            "request_timeout_s",
            "copy_grace_s",
            "call_grace_s",
        ):
            _positive_float(float_field, getattr(self, float_field))
        _positive_float("budget_usd", self.budget_usd)
        _positive_int("error_window", self.error_window)
        if self.max_error_rate is not None and not 0 < self.max_error_rate <= 1:
            raise ConfigError(
                f"max_error_rate must be a share above 0 and at most 1, got {self.max_error_rate!r}"
            )
        if self.order is None:
            set_(self, "order", "random" if self.state is not None else "listing")
        if self.order not in ("random", "listing"):
            raise ConfigError(f"order must be 'random' or 'listing', got {self.order!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ConfigError(f"seed must be a whole number, got {self.seed!r}")
        if self.min_hit_rate is not None and (
            isinstance(self.min_hit_rate, bool)
            or not isinstance(self.min_hit_rate, int | float)
            or not 0 < self.min_hit_rate < 1
        ):
            raise ConfigError(
                "min_hit_rate must be a share between 0 and 1 (e.g. 0.05), "
                f"got {self.min_hit_rate!r}"
            )
        if self.expected_bucket_owner is not None and not re.fullmatch(
            r"\d{12}", self.expected_bucket_owner
        ):
            raise ConfigError(
                "expected_bucket_owner must be a 12-digit AWS account id, "
                f"got {self.expected_bucket_owner!r}"
            )
        set_(
            self,
            "review_location",
            self.review or S3Location(self.dest.bucket, f"{self.dest.folder}_review/"),
        )
        self._refuse_feedback_loop()

    def _refuse_feedback_loop(self) -> None:
        """Refuse a destination whose output would be listed again by this very sweep."""
        outputs = [("destination", self.dest)]
        if self.review_threshold is not None:
            outputs.append(("review location", self.review_location))
        for what, out in outputs:
            if self.source.bucket != out.bucket:
                continue
            out_prefix = f"{out.folder}{self.folder_name}/"
            if out_prefix.startswith(self.source.prefix) or self.source.prefix.startswith(
                out_prefix
            ):
                raise ConfigError(
                    f"{what} {out} would write into the source listing {self.source}: "
                    "choose another bucket or a prefix outside the source prefix"
                )

    @property
    def identity(self) -> dict[str, object]:
        """What makes two runs the same sweep, so that counts and caps continue across them."""
        return {
            "source": str(self.source),
            "dest": str(self.dest),
            "labels": sorted(self.wanted),
            "threshold": self.threshold,
            "name": self.folder_name,
        } | (
            {"review_threshold": self.review_threshold} if self.review_threshold is not None else {}
        )

    def call_cap(self) -> tuple[int | None, StopReason]:
        """The paid calls a sweep may make across all its runs, and the rule that caps them:
        the scan cap, or what the budget pays for if that is fewer (``None``: no cap)."""
        cap, reason = self.max_scan, StopReason.MAX_SCAN
        if self.budget_usd is not None:
            affordable = self.prices.images_for(self.budget_usd)
            if cap is None or affordable < cap:
                cap, reason = affordable, StopReason.BUDGET
        return cap, reason

    @property
    def sweep_seed(self) -> int:
        """The random order's seed: :attr:`seed`, or one derived from the sweep's identity (so
        every run of the same sweep, a resume included, walks the same order)."""
        if self.seed is not None:
            return self.seed
        identity = json.dumps(self.identity, sort_keys=True).encode()
        return int.from_bytes(hashlib.blake2b(identity, digest_size=8).digest(), "big")

    @property
    def folder_name(self) -> str:
        """The folder that hits are copied into: ``name``, or the first label."""
        return self.name if self.name is not None else self.labels[0]

    @property
    def effective_queue_size(self) -> int:
        """The bound on listed objects waiting for a worker."""
        return self.queue_size if self.queue_size is not None else 4 * self.concurrency

    @property
    def match_floor(self) -> float:
        """The lowest confidence a wanted label matches at: the review band's lower edge, or
        the threshold."""
        return self.review_threshold if self.review_threshold is not None else self.threshold

    @property
    def min_confidence(self) -> float:
        """``MinConfidence`` sent to DetectLabels: low enough to see the review band (and down
        to :attr:`miss_floor` when one is set)."""
        if self.miss_floor is not None:
            return min(self.miss_floor, self.match_floor)
        return self.match_floor

    def review_key(self, key: str) -> str:
        """Where a review-band image's copy goes: ``REVIEW/<name>/<key>``."""
        return f"{self.review_location.folder}{self.folder_name}/{key}"

    def longest_key(self, key: str) -> str:
        """The longest key this object may be copied to (checked against S3's limit)."""
        if self.review_threshold is None:
            return self.dest_key(key)
        return max(self.dest_key(key), self.review_key(key), key=len)

    def dest_key(self, key: str) -> str:
        """Where a hit's copy goes: ``[PREFIX/]<name>/<key>``, the key kept byte for byte."""
        return f"{self.dest.folder}{self.folder_name}/{key}"
