"""deploy/compose.yaml runs what the tests run: it mounts haproxy.cfg and gives the env files the tests start
their processes with (tests/deployment.py), and those files agree with each other and with the service."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from milestones.settings import Settings
from tests.deployment import (
    API_ENV,
    API_SERVERS,
    BALANCER_BIND,
    COMPOSE,
    DEPLOY,
    HAPROXY,
    HAPROXY_CFG,
    HAPROXY_ENV,
    POSTGRES_ENV,
    WHERE,
    env_file,
)
from tests.served import clean_environment

API_HOSTS = ("api1", "api2", "api3")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    return dict(document["services"])


def env_files(service: dict[str, Any]) -> list[Path]:
    return [(DEPLOY / name).resolve() for name in service["env_file"]]


def test_haproxy_runs_the_tests_configuration_file_and_env_file(services: dict[str, Any]) -> None:
    haproxy = services["haproxy"]
    assert haproxy["image"].startswith("haproxy:")
    # The official image reads its configuration from this path.
    (mount,) = haproxy["volumes"]
    source, target, mode = mount.split(":")
    assert ((DEPLOY / source).resolve(), target, mode) == (HAPROXY_CFG, "/usr/local/etc/haproxy/haproxy.cfg", "ro")
    assert env_files(haproxy) == [HAPROXY_ENV]
    addresses = env_file(HAPROXY_ENV)
    # It publishes the port it binds.
    assert haproxy["ports"] == [f"{addresses[BALANCER_BIND].rpartition(':')[2]}:8080"]
    # Every address haproxy.cfg reads is in haproxy.env, and haproxy.env holds nothing else (the tests set each).
    config = HAPROXY_CFG.read_text()
    assert set(addresses) == {BALANCER_BIND, *API_SERVERS}
    assert all(f'"${{{name}}}"' in config for name in addresses)


def test_the_api_hosts_are_the_balancers_servers_and_share_api_env(services: dict[str, Any]) -> None:
    addresses = env_file(HAPROXY_ENV)
    api = env_file(API_ENV)
    assert [addresses[name] for name in API_SERVERS] == [f"{host}:{api['MILESTONES_PORT']}" for host in API_HOSTS]
    for host in API_HOSTS:
        service = services[host]
        assert env_files(service) == [API_ENV]
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["command"][0] == "serve"
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
        # SIGKILL only after the requests in flight were given their time.
        grace = int(service["stop_grace_period"].removesuffix("s"))
        assert grace > int(env_file(API_ENV)["MILESTONES_SHUTDOWN_TIMEOUT_SECONDS"])
    assert set(services) == {*API_HOSTS, "haproxy", "postgres", "redis"}


def test_api_env_names_compose_s_postgres_redis_and_haproxy(services: dict[str, Any]) -> None:
    api = env_file(API_ENV)
    database = urlsplit(api["MILESTONES_DATABASE_URL"])
    postgres = env_file(POSTGRES_ENV)
    assert env_files(services["postgres"]) == [POSTGRES_ENV]
    assert (database.hostname, database.username, database.password, database.path) == (
        "postgres",
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        f"/{postgres['POSTGRES_DB']}",
    )
    assert urlsplit(api["MILESTONES_REDIS_URL"]).hostname == "redis"
    # The one trusted proxy is HAProxy's fixed address on compose's network.
    haproxy_address = services["haproxy"]["networks"]["backend"]["ipv4_address"]
    assert api["MILESTONES_TRUSTED_PROXIES"] == haproxy_address
    assert api["MILESTONES_PROXY_HEADER"] == "x-forwarded-for"
    assert "option forwardfor" in HAPROXY_CFG.read_text()
    # What the tests replace (where things are) is all there, so the tests replace nothing else by accident.
    assert set(WHERE) <= set(api)


def test_api_env_is_a_valid_configuration_of_known_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    api = env_file(API_ENV)
    unknown = [name for name in api if name.removeprefix("MILESTONES_").lower() not in Settings.model_fields]
    assert unknown == []
    for name, value in api.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.redis_url == api["MILESTONES_REDIS_URL"]
    assert settings.rate_limited


def test_haproxy_accepts_its_configuration_with_compose_s_addresses(tmp_path: Path) -> None:
    """`haproxy -c`, with haproxy.env as compose gives it: the host names cannot be looked up here, and
    HAProxy starts anyway (init-addr none), finding them once they can be."""
    checked = subprocess.run(
        [HAPROXY, "-c", "-f", str(HAPROXY_CFG)],
        env=clean_environment(**env_file(HAPROXY_ENV)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "Configuration file is valid" in checked.stdout + checked.stderr
