"""The options every command that talks to AWS takes, written once.

Each command asks for the services it calls; the options read the same everywhere, so
``--region``/``--profile`` and the endpoints of the local stand-ins behave alike in ``scan``,
``export``, ``dupes``, ``review``, ``train`` and ``model``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def aws_options(
    *, s3: bool = False, rekognition: bool = False, owner: bool = False
) -> Callable[[F], F]:
    """``--region``, ``--profile`` and the endpoint options of the services asked for;
    ``owner`` adds ``--expected-bucket-owner`` (S3 calls only)."""
    options = [
        click.option("--region", help="AWS region (default: the AWS chain)."),
        click.option("--profile", help="AWS profile (default: the AWS chain)."),
    ]
    if s3:
        options.append(
            click.option("--s3-endpoint-url", help="S3 endpoint (default: AWS_ENDPOINT_URL_S3).")
        )
    if rekognition:
        options.append(
            click.option(
                "--rekognition-endpoint-url",
                help="Rekognition endpoint (default: AWS_ENDPOINT_URL_REKOGNITION).",
            )
        )
    if owner:
        options.append(
            click.option(
                "--expected-bucket-owner",
                metavar="ACCOUNT_ID",
                help="Sent as ExpectedBucketOwner on every S3 call.",
            )
        )

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
