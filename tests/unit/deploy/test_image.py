"""The image's build inputs: every dependency comes from the hashed lock, the final stage is the
non-root runtime only, and chart, compose and `make image` name the same image."""

from __future__ import annotations

import json
import re
import tomllib

import yaml
from deploy_helpers import CHART, DEPLOY, ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

IMAGE_DIR = DEPLOY / "image"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\]+)")


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of deploy/image/requirements.lock."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in (IMAGE_DIR / "requirements.lock").read_text().splitlines():
        m = PIN.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            out[current] = (m.group(2), [])
        elif "--hash=sha256:" in line and current:
            out[current][1].append(line.split("--hash=sha256:")[1].split()[0])
    return out


def stages() -> list[list[str]]:
    """The Containerfile's stages, each a list of its instructions (continuations joined)."""
    text = (IMAGE_DIR / "Containerfile").read_text()
    text = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    out: list[list[str]] = [[]]
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        if line.startswith("FROM ") and out[-1] and any(i.startswith("FROM ") for i in out[-1]):
            out.append([])
        out[-1].append(line)
    return out


def test_every_runtime_dependency_is_locked_with_hashes_and_fits_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = locked()
    for dep in project["dependencies"]:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is not in deploy/image/requirements.lock (make lock)"
        version = lock[name][0]
        assert req.specifier.contains(version, prereleases=True), f"{req.name}=={version} does not fit {dep}"
    assert all(hashes for _, hashes in lock.values()), "a pin without --hash"
    assert "setuptools" in lock  # the project is installed with the locked setuptools


def test_final_stage_is_the_non_root_runtime_only() -> None:
    build, final = stages()
    bases = [next(i for i in stage if i.startswith("FROM ")).split()[1] for stage in (build, final)]
    assert bases == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]  # same base: the venv's links stay valid
    install = " ".join(i for i in build if "requirements.lock" in i and i.startswith("RUN"))
    assert "--require-hashes" in install and "--only-binary=:all:" in install
    assert any("pip uninstall" in i and "pip" in i.split("uninstall")[1] for i in build)
    runs = [i for i in final if i.startswith("RUN")]
    assert not any(re.search(r"apt-get|pip |gcc|make ", r) for r in runs), runs
    assert [i for i in final if i.startswith("COPY")] == ["COPY --from=build /opt/silobridge /opt/silobridge"]
    assert "USER 10001:10001" in final
    labels = " ".join(i for i in final if i.startswith("LABEL"))
    for key in ("title", "version", "revision", "created", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_chart_compose_and_make_image_name_the_same_image() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((DEPLOY / "schema" / "cluster.schema.json").read_text())
    images = schema["properties"]["images"]["properties"]
    build = (IMAGE_DIR / "build.sh").read_text()
    default = re.search(r"IMAGE=\$\{IMAGE:-([^}]+)\}", build)
    assert default is not None
    assert values["image"]["repository"] == images["repository"]["default"] == default.group(1)
    assert "TAG=${TAG:-$VERSION}" in build  # the package version, as the chart's appVersion
