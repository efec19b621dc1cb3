"""There is no Docker engine here: prove docker-compose.yml, the Dockerfile and deploy/nginx.conf
against the code instead (commands exist, ports agree, every variable is one the code reads,
the production environment passes `check --deploy`)."""

from __future__ import annotations

import importlib
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker")
WEB_PORT = 8000


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def nginx_with_includes(path: Path) -> str:
    """deploy/nginx.conf with its includes of /etc/nginx/neighborbid/* (compose mounts
    deploy/nginx/ there) written out in place."""

    def include(match: re.Match) -> str:
        return (ROOT / "deploy" / "nginx" / match.group(1)).read_text()

    return re.sub(r"include /etc/nginx/neighborbid/([\w.]+);[^\n]*", include, path.read_text())


@pytest.fixture(scope="module")
def nginx() -> str:
    return nginx_with_includes(ROOT / "deploy" / "nginx.conf")


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def env_names_read_by_the_code() -> set[str]:
    pattern = re.compile(
        r"""(?:os\.environ\.get|os\.getenv|os\.environ\[|env_bool|env_list)\(?\s*["']([A-Z0-9_]+)["']"""
    )
    names: set[str] = set()
    for folder in ("neighborbid", "accounts", "auctions", "wallets"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(pattern.findall(path.read_text()))
    return names | {"DJANGO_SETTINGS_MODULE"}


def substituted(value: str, values: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message} with the given values."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in values:
            return values[name]
        if op == ":-":
            return rest
        raise AssertionError(f"${{{name}}} has no value and no default")

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, value)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", text))


def test_the_expected_services_exist(services):
    assert set(services) == {
        "postgres",
        "postgres-standby",
        "redis",
        "redis-replica",
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
        "migrate",
        "web",
        "worker",
        "proxy",
    }


def test_every_app_command_exists_in_the_code(services):
    commands = get_commands()
    for name in APP_SERVICES:
        command = services[name]["command"]
        text = " ".join(command)
        for used in re.findall(r"manage\.py (\w+)", text):
            assert used in commands, f"{name}: `manage.py {used}` is not a management command"
    assert services["worker"]["command"] == ["python", "manage.py", "run_worker"]
    assert "manage.py migrate --noinput" in " ".join(services["migrate"]["command"])
    assert "manage.py setup_roles" in " ".join(services["migrate"]["command"])


def test_web_runs_daphne_on_the_asgi_application(services, dockerfile):
    from daphne.cli import CommandLineInterface

    command = services["web"]["command"]
    assert command[0] == "daphne"
    args = CommandLineInterface().parser.parse_args(command[1:])
    assert (args.host, args.port, args.proxy_headers) == ("0.0.0.0", WEB_PORT, False)
    module, attribute = args.application.split(":")
    assert getattr(importlib.import_module(module), attribute) is not None
    # the image's default command is the same Daphne line
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd and yaml.safe_load(cmd.group(1)) == command


def test_ports_agree_everywhere(services, nginx, dockerfile):
    web = services["web"]
    assert web["expose"] == [str(WEB_PORT)]
    assert "ports" not in web, "web must not publish a host port, or --scale web=N collides"
    assert "ports" not in services["worker"]
    assert f"server web:{WEB_PORT} resolve;" in nginx
    assert f"EXPOSE {WEB_PORT}" in dockerfile
    assert f"127.0.0.1:{WEB_PORT}/readyz" in " ".join(web["healthcheck"]["test"])
    published = [str(p).split(":")[-1] for p in services["proxy"]["ports"]]
    assert published == ["80", "443"]
    assert re.search(r"listen 80 default_server;", nginx) and re.search(r"listen 443 ssl", nginx)


def test_every_environment_variable_is_read_by_the_code(services):
    known = env_names_read_by_the_code()
    for name in APP_SERVICES:
        env = services[name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name}: variables the code never reads: {sorted(unknown)}"
    env = services["web"]["environment"]
    for required in ("NEIGHBORBID_ENV", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"):
        assert required in env
    assert env["NEIGHBORBID_ENV"] == "production" and env["DEBUG"] == "0"
    assert env["TRUSTED_PROXY_COUNT"] == "1"  # exactly the one nginx in front


def test_urls_point_at_the_services(services):
    env = services["web"]["environment"]
    assert (
        "${POSTGRES_PASSWORD" in env["DATABASE_URL"]
        and "${POSTGRES_PASSWORD" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    )
    db = urlparse(substituted(env["DATABASE_URL"], {"POSTGRES_PASSWORD": "pw"}))
    assert db.password == "pw"
    pg = services["postgres"]["environment"]
    assert (db.hostname, db.port, db.username, db.path.lstrip("/")) == (
        "postgres",
        5432,
        pg["POSTGRES_USER"],
        pg["POSTGRES_DB"],
    )
    redis_url = urlparse(env["REDIS_URL"])
    assert redis_url.scheme == "redis+sentinel"
    assert [address.split(":")[0] for address in redis_url.netloc.split(",")] == [
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
    ]
    assert all(name in services for name in ("sentinel-1", "sentinel-2", "sentinel-3", "redis-replica"))
    assert urlparse(substituted(env["DATABASE_REPLICA_URL"], {"POSTGRES_PASSWORD": "pw"})).hostname == (
        "postgres-standby"
    )


def test_order_health_and_volumes(compose, services):
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    for name in ("postgres", "redis", "web", "proxy"):
        assert services[name]["healthcheck"]["test"], name
    assert set(compose["volumes"]) == {"pgdata", "pgstandby", "media"}
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "media:/app/media" in services["web"]["volumes"]
    assert "media:/srv/media:ro" in services["proxy"]["volumes"]
    assert services["web"]["environment"]["MEDIA_ROOT"] == "/app/media"


def test_compose_placeholders_are_documented(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / "deploy" / "env.example").read_text()
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
    assert placeholders(text) <= documented


def test_nginx_proxies_http_and_websocket_with_honest_forwarding_headers(nginx):
    assert "proxy_pass http://web;" in nginx
    ws = nginx[nginx.index("location /ws/") :]
    ws = ws[: ws.index("}")]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws and "proxy_http_version 1.1;" in ws
    # every proxied location sets the forwarding headers itself (nginx does not inherit them
    # into a location that sets any proxy_set_header)
    blocks = re.findall(r"location ([^{]+)\{([^}]*)\}", nginx)
    proxied = sorted(where.strip() for where, block in blocks if "proxy_pass" in block)
    # the loop below must have something to check: the site and its socket door at least
    assert "/" in proxied and "/ws/" in proxied, proxied
    for _where, block in blocks:
        if "proxy_pass" in block:
            assert "proxy_set_header X-Forwarded-Proto $scheme;" in block
            assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in block
            assert "proxy_set_header Host $host;" in block
    assert "non_idempotent" not in nginx  # a POST (a bid) is never retried on another replica
    assert "alias /srv/media/;" in nginx


def test_nginx_sends_every_bid_door_socket_of_one_auction_to_one_replica(nginx):
    door = re.search(r"location ~ \^/ws/auctions/\(\?<auction>\[0-9\]\+\)/bid/\$ \{([^}]*)\}", nginx)
    assert door, "no bid door location"
    assert "proxy_pass http://bids;" in door.group(1) and "proxy_set_header Upgrade $http_upgrade;" in door.group(1)
    upstream = re.search(r"upstream bids \{([^}]*)\}", nginx)
    assert upstream, "no upstream bids"
    assert "hash $auction consistent;" in upstream.group(1) and f"server web:{WEB_PORT} resolve;" in upstream.group(1)


def test_dockerfile(dockerfile):
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert re.match(r"^[A-Za-z0-9_.\-\[\],]+==[0-9][\w.]*$", line), f"not pinned: {line}"
    # The lock pins every package (dependencies too) with its hashes, and agrees with the inputs.
    locked = {}
    for block in re.split(r"\n(?=\S)", (ROOT / "requirements.lock").read_text()):
        if block.startswith(("#", "--")) or not block.strip():
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", block)
        assert match and "--hash=sha256:" in block, f"not pinned with a hash: {block.splitlines()[0]}"
        locked[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("#")[0].strip():
            name, version = re.sub(r"\[.*\]", "", line.split("#")[0].strip()).split("==")
            assert locked.get(re.sub(r"[-_.]+", "-", name).lower()) == version, f"lock out of date: {line}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored


def production_env_from_compose(services, **values: str) -> dict[str, str]:
    env = {k: substituted(str(v), values) for k, v in services["web"]["environment"].items()}
    return env


def test_the_compose_environment_passes_check_deploy(services):
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "neighborbid.example.com",
        "POSTGRES_PASSWORD": "pw",
    }
    env = production_env_from_compose(services, **values)
    assert env["CSRF_TRUSTED_ORIGINS"] == ""  # defaults to https://<host>
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- docker-compose.yml and `make cluster` (scripts/cluster.sh) describe one topology ------------

CLUSTER = ROOT / "scripts" / "cluster.sh"


def cluster_app_env() -> dict[str, str]:
    """The variables scripts/cluster.sh writes into app.env (its heredoc), values as written."""
    text = CLUSTER.read_text()
    body = text[text.index('cat >"$DIR/app.env" <<EOF') :]
    body = body[: body.index("\nEOF\n")]
    env = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", body.replace("$REDIS_SERVICE", "nbredis"), re.M))
    # and the Web Push keys `manage.py vapid_keys` printed, appended after it
    assert 'cat "$DIR/vapid.env" >>"$DIR/app.env"' in text
    return env | {"VAPID_PRIVATE_KEY": "(generated)", "VAPID_PUBLIC_KEY": "(generated)"}


def sentinel_settings(text: str) -> dict[str, str]:
    return dict(re.findall(r"sentinel (down-after-milliseconds|failover-timeout|parallel-syncs) nbredis (\d+)", text))


def test_compose_and_make_cluster_start_the_same_topology(services):
    script = CLUSTER.read_text()
    compose_text = (ROOT / "docker-compose.yml").read_text()
    # three web processes behind one nginx with least_conn and the same proxied locations
    assert re.search(r"^WEB_PORTS=\((\d+ ?){3}\)$", script, re.M)
    assert "include $ROOT/deploy/nginx/proxy.conf;" in script
    assert "least_conn;" in script and "least_conn;" in (ROOT / "deploy" / "nginx.conf").read_text()
    # a primary and a standby streaming through the same slot
    assert "postgres-standby" in services and "nb_standby" in compose_text
    assert "PG_STANDBY_PORT" in script and "nb_standby" in (ROOT / "deploy" / "cluster" / "pg.sh").read_text()
    # Redis: one replica, three sentinels, the same service name, quorum and timings
    assert "REDIS_REPLICA_PORT" in script and "redis-replica" in services
    assert re.search(r"^SENTINEL_PORTS=\((\d+ ?){3}\)$", script, re.M)
    sentinels = sorted(name for name in services if name.startswith("sentinel-"))
    assert sentinels == ["sentinel-1", "sentinel-2", "sentinel-3"]
    assert re.search(r"sentinel monitor \$REDIS_SERVICE 127.0.0.1 \$REDIS_PRIMARY_PORT 2$", script, re.M)
    assert "sentinel monitor nbredis redis 6379 2" in compose_text and "REDIS_SERVICE=nbredis" in script
    assert sentinel_settings(script.replace("$REDIS_SERVICE", "nbredis")) == sentinel_settings(compose_text)
    assert len(sentinel_settings(compose_text)) == 3


def test_compose_and_make_cluster_give_the_app_the_same_settings(services):
    compose_env = services["web"]["environment"]
    cluster_env = cluster_app_env()
    # what only one of them may set: production-only hardening and secrets (compose), the
    # loopback cluster's own paths, demo and logging knobs
    compose_only = {"NEIGHBORBID_ENV", "CSRF_TRUSTED_ORIGINS", "NEIGHBORBID_MANIFEST_STATIC", "VAPID_SUBJECT"}
    cluster_only = {"EMBEDDED_WORKER", "DEMO_TOP_UP_SECONDS"}
    assert set(compose_env) - compose_only == set(cluster_env) - cluster_only
    for name in ("DEBUG", "TRUSTED_PROXY_COUNT", "LOG_FORMAT"):
        assert compose_env[name] == cluster_env[name], name
    for name in ("REDIS_URL", "DATABASE_URL", "DATABASE_REPLICA_URL"):
        assert urlparse(compose_env[name]).scheme == urlparse(cluster_env[name]).scheme, name
    assert urlparse(compose_env["REDIS_URL"]).path == urlparse(cluster_env["REDIS_URL"]).path == "/nbredis/0"
    # every sentinel is named in the URL: the three of compose, the three SENTINEL_PORTS of the script
    assert compose_env["REDIS_URL"].count(",") == 2
    assert cluster_env["REDIS_URL"].startswith("redis+sentinel://${sentinels%,}/")
    assert """sentinels=$(printf '127.0.0.1:%s,' "${SENTINEL_PORTS[@]}")""" in CLUSTER.read_text()
