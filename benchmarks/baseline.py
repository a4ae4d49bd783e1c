"""The published sequential loop, re-implemented faithfully as the baseline.

From the write-up "Automate annotation of image training data with Amazon Rekognition": a boto3
S3 resource and Rekognition client with default retries; every object in listing order, no
filter; DetectLabels with no MinConfidence and no MaxLabels; a hit when the wanted tag, lower-cased,
is among the returned label *names* (lower-cased) whose Confidence is strictly above the
threshold (parents and aliases are not consulted); hits copied with the resource's managed
``meta.client.copy``; one image at a time, no error handling.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class BaselineResult:
    images: int
    copied: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def published_loop(
    source: str,
    destination: str,
    tag: str,
    name: str,
    threshold: float,
    *,
    s3_endpoint_url: str,
    rekognition_endpoint_url: str,
    limit: int | None = None,
) -> BaselineResult:
    """Run the loop; ``limit`` stops after that many objects (the original has no limit)."""
    s3 = boto3.resource("s3", endpoint_url=s3_endpoint_url)
    rekognition = boto3.client("rekognition", endpoint_url=rekognition_endpoint_url)
    images = copied = 0
    started = time.perf_counter()
    for obj in s3.Bucket(source).objects.all():
        key = obj.key
        response: Any = rekognition.detect_labels(
            Image={"S3Object": {"Bucket": source, "Name": key}}
        )
        names = {
            label["Name"].lower() for label in response["Labels"] if label["Confidence"] > threshold
        }
        if tag.lower() in names:
            s3.meta.client.copy({"Bucket": source, "Key": key}, destination, f"{name}/{key}")
            copied += 1
        images += 1
        if limit is not None and images >= limit:
            break
    return BaselineResult(images, copied, time.perf_counter() - started)
