"""The production files in docker/, checked without a Docker engine (none runs on these machines).

The compose file parses and is self-consistent (every service, volume and variable it uses is
declared, every Airflow service runs the CeleryExecutor, no secret is written in it), and the image
installs the project with the command the Makefile (and so ``make test``) uses.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"
MAKEFILE = REPO / "Makefile"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$", re.IGNORECASE)
REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}")
VARIABLE = "<variable>"
URL_CREDENTIALS = re.compile(r"://(?P<user>[^:/@]*):(?P<password>[^@]*)@")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker/docker-compose.yml, parsed (YAML anchors and merge keys resolved, as compose does)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "NAME=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _volume_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for entry in service.get("volumes") or []:
        sources.append(entry["source"] if isinstance(entry, dict) else str(entry).split(":", 1)[0])
    return sources


def _depends_on(service: dict[str, Any]) -> list[str]:
    depends = service.get("depends_on") or []
    return list(depends) if isinstance(depends, dict | list) else []


# --------------------------------------------------------------------------- the compose file


def test_compose_declares_the_whole_deployment(compose):
    services = set(compose["services"])
    assert services == {"postgres", "redis", *AIRFLOW_SERVICES}
    assert compose["services"]["airflow-worker"]["command"] == ["celery", "worker"]
    for name, service in compose["services"].items():
        assert service.get("image"), f"{name} names no image"


def test_every_volume_used_is_declared_and_every_declared_volume_is_used(compose):
    declared = set(compose.get("volumes") or {})
    named_used, bind_sources = set(), []
    for service in compose["services"].values():
        for source in _volume_sources(service):
            if source.startswith((".", "/", "~")):
                bind_sources.append(source)
            else:
                named_used.add(source)
    assert named_used <= declared, f"volumes used but not declared: {named_used - declared}"
    assert declared <= named_used, f"volumes declared but never used: {declared - named_used}"
    assert {"postgres-data", "nse-data"} <= named_used
    for source in bind_sources:  # relative to the compose file's folder
        assert (DOCKER / source).resolve().exists(), f"bind-mounted {source} is not in the repository"


def test_depends_on_names_services_without_cycles(compose):
    services = compose["services"]
    graph = {name: _depends_on(service) for name, service in services.items()}
    for name, needs in graph.items():
        assert set(needs) <= set(services), f"{name} depends on unknown services {set(needs) - set(services)}"
        assert name not in needs, f"{name} depends on itself"
    done: set[str] = set()
    while len(done) < len(graph):  # peel off services whose dependencies are all placed: fails on a cycle
        ready = {n for n, needs in graph.items() if n not in done and set(needs) <= done}
        assert ready, f"dependency cycle among {set(graph) - done}"
        done |= ready
    # the Airflow services start after a successful init, which itself waits for healthy databases
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_airflow_service_runs_the_celery_executor_on_redis_and_postgres(compose):
    for name in AIRFLOW_SERVICES:
        env = _environment(compose["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert (
            env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
            and "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"]
        ), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert "@postgres:5432/" in env["AIRFLOW__CELERY__RESULT_BACKEND"], name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["EXEC_HOME"] == "/data" and "nse-data" in _volume_sources(compose["services"][name]), name


def test_long_running_services_have_healthchecks(compose):
    for name, service in compose["services"].items():
        if name == "airflow-init":
            assert service["restart"] == "no"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_no_literal_secret_in_the_compose_file(compose):
    checked = 0
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            masked = REFERENCE.sub(VARIABLE, value)  # every ${...} replaced: what is left is literal
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):  # a *_FILE names where a secret is
                assert masked == VARIABLE, f"{name}: {key} holds a literal value"
                checked += 1
            for match in URL_CREDENTIALS.finditer(masked):
                assert match["password"] == VARIABLE, f"{name}: {key} embeds a literal password"
                checked += 1
    assert checked >= 10  # the keys, the passwords of every database and broker URL
    text = COMPOSE_FILE.read_text()
    assert "change-me" not in text and "BEGIN PRIVATE KEY" not in text


def test_every_required_variable_is_in_the_env_example_and_nothing_else_is(compose):
    lines = [line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("$$", "")  # $$ escapes a literal $ for the container's shell
    referenced = {m["name"] for m in REFERENCE.finditer(text)}
    required = {m["name"] for m in REFERENCE.finditer(text) if m["rest"].startswith((":?", "?")) or not m["rest"]}
    example = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert required <= set(example), f"required but missing from .env.example: {required - set(example)}"
    assert set(example) <= referenced, f".env.example has unused variables: {set(example) - referenced}"
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "change-me", f"{key} in .env.example must be a placeholder"


def test_the_real_env_file_is_not_committed():
    """docker/.env (compose reads it from the compose file's folder) is ignored by git."""
    ignored = [line.strip() for line in (DOCKER / ".gitignore").read_text().splitlines()]
    assert ".env" in ignored or "/.env" in ignored
    assert ".env.example" not in ignored


# --------------------------------------------------------------------------- the image


def _pip_installs(commands: list[str]) -> list[list[str]]:
    """The arguments after ``pip install`` of every command, options that do not change what is installed dropped.

    Dropped: ``-q/--quiet`` (output only), ``-e/--editable`` (a development checkout; the image gets a
    regular install) and the ``[dev]`` extra (pytest and ruff, for development only).
    """
    installs = []
    for command in commands:
        for part in command.split("&&"):
            words = shlex.split(part)
            if "pip" not in " ".join(words[:4]) or "install" not in words:
                continue
            args = words[words.index("install") + 1 :]
            kept = [a for a in args if a not in ("-q", "--quiet", "-e", "--editable")]
            installs.append([re.sub(r"^(\.|\S+/)\[dev\]$", r"\1", a) for a in kept])
    return installs


def _makefile_install_commands() -> list[str]:
    recipe_lines = [line.strip() for line in MAKEFILE.read_text().splitlines() if line.startswith("\t")]
    return [line.replace("$(PY)", "python") for line in recipe_lines if "pip install" in line]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def test_the_image_installs_the_project_as_the_makefile_does():
    make_installs = _pip_installs(_makefile_install_commands())
    runs = [args for instruction, args in _dockerfile_instructions() if instruction == "RUN"]
    image_installs = _pip_installs(runs)
    assert make_installs == [["--upgrade", "pip==26.3"], ["-c", "constraints.txt", "."]]
    assert image_installs == make_installs


def test_the_image_is_python_3_11_slim_with_the_project_files_and_no_secrets():
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert 'requires-python = "==3.11.*"' in (REPO / "pyproject.toml").read_text()
    copies = [args.split() for instruction, args in instructions if instruction == "COPY"]
    copied = {source for args in copies for source in args[:-1]}
    assert {"pyproject.toml", "constraints.txt", "README.md", "execution", "dags", "plugins"} <= copied
    install_at = next(i for i, (ins, args) in enumerate(instructions) if ins == "RUN" and "constraints.txt" in args)
    constraints_at = next(
        i for i, (ins, args) in enumerate(instructions) if ins == "COPY" and "constraints.txt" in args
    )
    assert constraints_at < install_at  # the pins are in the image before the install that needs them
    env_text = " ".join(args for ins, args in instructions if ins in ("ENV", "ARG"))
    assert not SECRET_NAME.search(env_text), "no secret belongs in the image"
    assert ("USER", "airflow") in instructions
