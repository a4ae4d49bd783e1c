"""Projects and model versions by name: the lookups every command starts with.

A model version's ARN names its project and version
(``arn:aws:rekognition:REGION:ACCOUNT:project/NAME/version/VERSION/TIMESTAMP``), but
DescribeProjectVersions wants the project's own ARN, which only DescribeProjects knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigError
from ._calls import call
from ._errors import CustomLabelsError

_VERSION_ARN = re.compile(
    r"^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project/([a-zA-Z0-9_.\-]{1,255})"
    r"/version/([a-zA-Z0-9_.\-]{1,255})/[0-9]+$"
)
_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{1,255}$")


@dataclass(frozen=True, slots=True)
class VersionRef:
    """What a model version's ARN says."""

    arn: str
    project: str
    version: str

    @classmethod
    def parse(cls, arn: str) -> VersionRef:
        found = _VERSION_ARN.match(arn or "")
        if found is None:
            raise ConfigError(
                f"not a Custom Labels model ARN: {arn!r} (expected arn:aws:rekognition:REGION:"
                "ACCOUNT:project/NAME/version/VERSION/NUMBER)"
            )
        return cls(arn, found.group(1), found.group(2))


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name or ""):
        raise ConfigError(f"{what} must be 1-255 letters, digits, '_', '.' or '-', got {name!r}")
    return name


async def find_project(client: Any, name: str) -> dict[str, Any] | None:
    """The project's description (``ProjectArn``, ``Datasets``...), or ``None``."""
    response = await call(f"DescribeProjects {name}", client.describe_projects(ProjectNames=[name]))
    for project in response.get("ProjectDescriptions", ()):
        if str(project["ProjectArn"]).split("/")[1] == name:
            return dict(project)
    return None


async def ensure_project(client: Any, name: str) -> tuple[dict[str, Any], bool]:
    """The project named ``name``, created if there is none; and whether it was created."""
    project = await find_project(client, check_name(name, "--project"))
    if project is not None:
        return project, False
    await call(f"CreateProject {name}", client.create_project(ProjectName=name))
    project = await find_project(client, name)
    if project is None:
        raise CustomLabelsError(f"project {name} was created but cannot be described")
    return project, True


async def describe_versions(
    client: Any, project_arn: str, versions: list[str] | None = None
) -> list[dict[str, Any]]:
    """The project's model versions, newest first."""
    kwargs: dict[str, Any] = {"ProjectArn": project_arn}
    if versions:
        kwargs["VersionNames"] = versions
    found: list[dict[str, Any]] = []
    while True:
        response = await call("DescribeProjectVersions", client.describe_project_versions(**kwargs))
        found.extend(response.get("ProjectVersionDescriptions", ()))
        token = response.get("NextToken")
        if not token:
            return found
        kwargs["NextToken"] = token


async def describe_version(client: Any, arn: str) -> dict[str, Any]:
    """DescribeProjectVersions' entry for the model ``arn``."""
    ref = VersionRef.parse(arn)
    project = await find_project(client, ref.project)
    if project is None:
        raise CustomLabelsError(f"no Custom Labels project {ref.project!r} for model {arn}")
    for version in await describe_versions(client, project["ProjectArn"], [ref.version]):
        if version["ProjectVersionArn"] == arn:
            return version
    raise CustomLabelsError(f"no model {arn} in project {ref.project}")
