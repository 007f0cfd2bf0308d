"""The deployment files in infra/ say only what works: the Kubernetes manifests validate
against the API's schemas (strictly: no unknown fields), the image copies every package the
wheel is built from, and every command the compose file, the manifests and the systemd units
run is a real `parta` command with options it takes."""

from __future__ import annotations

import configparser
import os
import re
import tomllib
from pathlib import Path

import click
import kubernetes_validate
import pytest
import yaml

from backend.cli import main

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
KUBERNETES = "1.31.0"


def _manifests() -> list[dict[str, object]]:
    return [
        doc
        for path in sorted((INFRA / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def test_the_kubernetes_manifests_validate_strictly() -> None:
    manifests = _manifests()
    kinds = {str(m["kind"]) for m in manifests}
    assert {"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob"} <= kinds
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def test_the_image_copies_every_package_of_the_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    dockerfile = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.MULTILINE))
    assert set(packages) <= copied, f"not copied into the image: {set(packages) - copied}"


def _run(argv: list[str]) -> None:
    """Parse `parta ...` as the real command line would, without running it."""
    assert argv[0].endswith("parta"), argv
    command = argv[1]
    assert command in main.commands, f"no such parta command: {argv}"
    sub: click.Command = main.commands[command]
    sub.make_context(command, argv[2:])  # a wrong option or value raises here


def _commands() -> list[list[str]]:
    found: list[list[str]] = []
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text(encoding="utf-8"))
    found += [s["command"] for s in compose["services"].values() if "command" in s]
    found += [["parta", "serve"]]  # the image's default command (CMD)
    for manifest in _manifests():
        spec = manifest.get("spec") or {}
        templates = [
            spec.get("template"),
            spec.get("jobTemplate", {}).get("spec", {}).get("template"),
        ]
        for template in templates:
            for container in (template or {}).get("spec", {}).get("containers", []):
                found.append(container["command"])
    for unit in sorted((INFRA / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(unit.read_text(encoding="utf-8"))
        for key in ("ExecStartPre", "ExecStart"):
            if parser.has_option("Service", key):
                found.append(parser.get("Service", key).split())
    return [c for c in found if c[0].endswith("parta")]


def test_every_command_the_deployment_runs_exists() -> None:
    commands = _commands()
    assert len(commands) >= 10
    for argv in commands:
        _run(argv)


def test_docker_compose_accepts_the_compose_file() -> None:
    """`docker compose config` reads and checks the file against the Compose Specification
    without a Docker engine: only the client's Compose plugin is needed."""
    import shutil
    import subprocess

    if shutil.which("docker") is None:
        pytest.skip("no `docker` command on PATH")
    version = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=60, check=False
    )
    if version.returncode != 0:
        said = (version.stderr or version.stdout).strip().splitlines()
        pytest.skip(
            "the Docker client has no Compose plugin (`docker compose version`: "
            f"{said[0] if said else version.returncode})"
        )
    env = {**os.environ, "POSTGRES_PASSWORD": "x", "PARTA_SECRET_KEY": "x" * 48}
    checked = subprocess.run(
        ["docker", "compose", "-f", str(INFRA / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
