"""The two Dockerfiles, linted by hadolint (its default rules, failing on any finding).

hadolint checks what a reviewer would: every base image pinned to a tag (DL3006/DL3007), the
last USER not root (DL3002), shell form and pipefail pitfalls, COPY/ADD misuse. The few facts
the images owe this project and no linter knows are checked on the files' instructions.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .tools import REPO, hadolint

DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_both_images_have_a_dockerfile() -> None:
    assert {p.name for p in DOCKERFILES} == {"trading-core.Dockerfile", "mcp-suite.Dockerfile"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = _lint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_refuses_an_unpinned_root_image(tmp_path: Path) -> None:
    """The control: what the project's files avoid is reported."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uv\nUSER root\nCMD python\n")
    result = _lint(bad)
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3002"} <= set(re.findall(r"DL\d{4}", result.stdout))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_image_installs_the_lock_without_dev_tools_and_runs_unprivileged(
    dockerfile: Path,
) -> None:
    text = dockerfile.read_text()
    assert re.search(r"uv sync --locked --no-dev --all-packages --no-editable", text)
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages[0].startswith("ghcr.io/astral-sh/uv:0.13.8")  # the uv of .ci/run
    assert len(stages) == 3  # uv, build, runtime: no compiler or uv cache in the image
    last_user = re.findall(r"^USER (\S+)", text, re.MULTILINE)[-1]
    assert re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", last_user), last_user
    assert re.search(r'^ENTRYPOINT \["trading-entrypoint"\]', text, re.MULTILINE)
    assert "HEALTHCHECK" in text
