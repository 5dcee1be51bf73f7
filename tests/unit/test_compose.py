"""The Docker stack's files agree with each other, with the repository and with the issue.

No Docker engine runs in CI, so the stack is checked by reading it: the compose file against
the Compose specification, and every name, port and path it shares with the Dockerfile, the
Prometheus/Alertmanager configs and the Grafana provisioning files.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_DIR = REPO / "deploy" / "compose"
GRAFANA_PROVISIONING = REPO / "grafana" / "provisioning"

NAMED_SERVICES = {"kafka", "redis", "prometheus", "alertmanager", "grafana", "worker"}
PUBLISHED = {"grafana": 3000, "prometheus": 9090}
ALERTMANAGER_PORT = 9093
SECRET_KEY = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
INTERPOLATION = re.compile(r"\$\{(\w+)")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a map, from either the map or the list form."""
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host_ip, container_port) of each published port; host_ip "" means every interface."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((str(port.get("host_ip", "")), str(port["target"])))
            continue
        parts = str(port).split("/")[0].rsplit(":", 2)
        host_ip = parts[0] if len(parts) == 3 else ""
        found.append((host_ip.strip("[]"), parts[-1]))
    return found


def literal_secrets(document: dict[str, Any]) -> list[str]:
    """Secret-looking variables whose value is written in the file rather than looked up."""
    found = []
    for name, service in document.get("services", {}).items():
        for key, value in environment(service).items():
            if not SECRET_KEY.search(key) or not value:
                continue
            from_file = key.endswith("_FILE") and value.startswith("/run/secrets/")
            if not from_file and not value.startswith("${"):
                found.append(f"{name}.{key}")
    return found


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append((str(volume.get("source", "")), str(volume["target"])))
        else:
            source, target = str(volume).split(":")[:2]
            found.append((source, target))
    return found


def is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def mount_target(service: str, host_path: str) -> str:
    for source, target in volume_mounts(services()[service]):
        if is_host_path(source) and (REPO / source).resolve() == (REPO / host_path).resolve():
            return target
    raise AssertionError(f"{service} does not mount {host_path}")


def listener_ports(value: str) -> dict[str, int]:
    """Listener name -> port, from a Kafka listeners value such as ``PLAINTEXT://:9092``."""
    ports = {}
    for listener in value.split(","):
        name, _, address = listener.partition("://")
        ports[name] = int(address.rsplit(":", 1)[1])
    return ports


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    found = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def dockerignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out: the last matching pattern wins."""
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    prefixes = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
    ignored = False
    for line in lines:
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            ignored = not negated
    return ignored


def venv_tool(name: str) -> Path:
    tool = Path(sys.executable).parent / name
    assert tool.exists(), f"{name} is missing next to {sys.executable}: pip install -e '.[dev]'"
    return tool


# --- the compose file --------------------------------------------------------------------


def compose_spec_problems(path: Path) -> str:
    """check-jsonschema's complaints about ``path`` against the Compose specification."""
    result = subprocess.run(
        [str(venv_tool("check-jsonschema")), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_compose_file_follows_the_compose_specification() -> None:
    assert compose_spec_problems(COMPOSE_FILE) == ""


def test_every_service_the_issue_names_is_defined() -> None:
    assert services().keys() >= NAMED_SERVICES
    assert services()["simulator"]["profiles"] == ["demo"]


def test_build_contexts_and_dockerfiles_exist() -> None:
    builds = {name: svc["build"] for name, svc in services().items() if "build" in svc}
    assert "worker" in builds
    for name, build in builds.items():
        context = REPO / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
        assert context.is_dir(), name
        assert (context / (dockerfile or "Dockerfile")).is_file(), name


def test_mounted_host_paths_exist_and_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        for source, target in volume_mounts(service):
            if is_host_path(source):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source} ({target})"


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("3000:3000", ("", "3000")),
        ("0.0.0.0:9090:9090", ("0.0.0.0", "9090")),
        ("127.0.0.1:3000:3000", ("127.0.0.1", "3000")),
        ("127.0.0.1:8080:80/tcp", ("127.0.0.1", "80")),
        ({"target": 9090, "published": "9090"}, ("", "9090")),
        ({"target": 3000, "published": "3000", "host_ip": "127.0.0.1"}, ("127.0.0.1", "3000")),
    ],
)
def test_port_reader_sees_the_bound_interface(port: object, expected: tuple[str, str]) -> None:
    assert published_ports({"ports": [port]}) == [expected]


def test_only_grafana_and_prometheus_publish_and_only_on_loopback() -> None:
    publishing = {name: published_ports(svc) for name, svc in services().items()}
    publishing = {name: ports for name, ports in publishing.items() if ports}
    assert set(publishing) == set(PUBLISHED)
    for name, ports in publishing.items():
        assert ports == [("127.0.0.1", str(PUBLISHED[name]))], name


def test_secret_reader_flags_a_written_password() -> None:
    leaky = {
        "services": {
            "grafana": {"environment": {"GF_SECURITY_ADMIN_PASSWORD": "admin"}},
            "db": {"environment": ["POSTGRES_PASSWORD=hunter2", "POSTGRES_USER=app"]},
            "ok": {"environment": {"TOKEN_FILE": "/run/secrets/token", "PASSWORD": "${P:?}"}},
        }
    }
    assert literal_secrets(leaky) == ["grafana.GF_SECURITY_ADMIN_PASSWORD", "db.POSTGRES_PASSWORD"]


def test_no_password_is_written_in_the_compose_file() -> None:
    assert literal_secrets(compose()) == []
    grafana = environment(services()["grafana"])
    assert "GF_SECURITY_ADMIN_PASSWORD" in grafana or "GF_SECURITY_ADMIN_PASSWORD__FILE" in grafana
    for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines():
        code = line.split("#", 1)[0]
        match = re.search(r"(?i)passw(or)?d\w*\s*[:=]\s*(\S+)", code)
        assert match is None or match.group(2).startswith(("${", "/run/secrets/")), line


def test_kafka_controller_listens_beside_alertmanager_not_on_its_port() -> None:
    env = environment(services()["kafka"])
    listeners = listener_ports(env["KAFKA_LISTENERS"])
    controllers = env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
    controller_ports = {listeners[name] for name in controllers}
    assert ALERTMANAGER_PORT not in controller_ports
    assert ALERTMANAGER_PORT not in listeners.values()
    voter_ports = {
        int(v.rsplit(":", 1)[1]) for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    }
    assert voter_ports == controller_ports
    assert env["KAFKA_PROCESS_ROLES"].split(",") == ["broker", "controller"]
    for key, value in env.items():
        if key.endswith("REPLICATION_FACTOR"):
            assert value == "1", key


def test_worker_reaches_kafka_and_redis_through_their_service_names() -> None:
    kafka = environment(services()["kafka"])
    worker = environment(services()["worker"])
    assert worker["TICKETPULSE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert f"PLAINTEXT://{worker['TICKETPULSE_KAFKA_BOOTSTRAP']}" in kafka[
        "KAFKA_ADVERTISED_LISTENERS"
    ].split(",")
    redis = urlsplit(worker["TICKETPULSE_REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    assert worker["TICKETPULSE_WEB_PORT"] == "6066"


def test_long_running_services_have_healthchecks_and_wait_for_healthy_dependencies() -> None:
    for name, service in services().items():
        if name != "simulator":
            assert "healthcheck" in service, name
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            assert rule["condition"] == "service_healthy", f"{name} -> {dependency}"
            assert "healthcheck" in services()[dependency], dependency
    assert set(services()["worker"]["depends_on"]) == {"kafka", "redis"}


def test_every_compose_variable_is_in_the_env_example_without_a_value() -> None:
    variables = set(INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    assert "GRAFANA_ADMIN_PASSWORD" in variables
    example = {}
    for line in (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert variables <= example.keys()
    assert example["GRAFANA_ADMIN_PASSWORD"] == ""


def test_docs_name_every_variable_and_published_port() -> None:
    docs = (REPO / "docs" / "docker.md").read_text(encoding="utf-8")
    names = set(INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    names |= set(environment(services()["worker"]))
    for name in names:
        assert name in docs, name
    for port in PUBLISHED.values():
        assert f"127.0.0.1:{port}" in docs


# --- the ticketpulse services: commands, addresses, ports ----------------------------------

# Ports the third-party images listen on by default (their commands here do not change them).
IMAGE_PORTS = {"redis": {6379}, "prometheus": {9090}, "alertmanager": {9093}, "grafana": {3000}}
HEALTH_URL = re.compile(r"https?://[^'\"\s]+")


def ticketpulse_services() -> dict[str, dict[str, Any]]:
    """Services that run the image built from the Dockerfile."""
    return {name: svc for name, svc in services().items() if "build" in svc}


def command_args(service: dict[str, Any]) -> list[str]:
    """The arguments of ``ticketpulse`` in a service: its command, or the Dockerfile's CMD."""
    command = service.get("command")
    if command is None:
        return list(json.loads(dict(dockerfile_instructions())["CMD"]))
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def worker_settings() -> Any:
    from streams.live.settings import WorkerSettings

    return WorkerSettings.from_env(environment(services()["worker"]))


def check_command(args: list[str], env: dict[str, str]) -> str:
    """Parse ``ticketpulse <args>`` with the CLI's own parser and the command's own usage rules,
    as the container would run it; the subcommand's name. Raises click's usage errors."""
    from streams.cli import main
    from streams.live.settings import WorkerSettings
    from streams.simulator.simulate import check_usage

    context = main.make_context("ticketpulse", list(args))
    name, command, rest = main.resolve_command(context, list(args))  # no group option is used
    assert name is not None and command is not None
    params = command.make_context(name, rest, parent=context).params
    if name == "simulate":
        keys = ("out", "kafka", "realtime", "max_rate", "count", "duration")
        check_usage(*(params[key] for key in keys))
    if name == "worker":
        overrides = {k: v for k, v in params.items() if k != "log_level"}
        WorkerSettings.from_env(env, **overrides)
    return name


def listening() -> dict[str, set[int]]:
    """service -> the ports it listens on inside the compose network."""
    kafka = listener_ports(environment(services()["kafka"])["KAFKA_LISTENERS"])
    return {**IMAGE_PORTS, "kafka": set(kafka.values()), "worker": {worker_settings().web_port}}


def addresses() -> list[tuple[str, str]]:
    """(where, host:port) of every address a service or a config names."""
    found: list[tuple[str, str]] = []
    prometheus = load_yaml(COMPOSE_DIR / "prometheus.yml")
    for job in prometheus["scrape_configs"]:
        for static in job["static_configs"]:
            found += [(f"prometheus job {job['job_name']}", t) for t in static["targets"]]
    for manager in prometheus["alerting"]["alertmanagers"]:
        for static in manager["static_configs"]:
            found += [("prometheus alerting", t) for t in static["targets"]]
    for path in sorted((GRAFANA_PROVISIONING / "datasources").glob("*.yml")):
        for datasource in load_yaml(path)["datasources"]:
            found.append((f"grafana datasource {path.name}", urlsplit(datasource["url"]).netloc))
    worker = environment(services()["worker"])
    found.append(("worker kafka", worker["TICKETPULSE_KAFKA_BOOTSTRAP"]))
    found.append(("worker redis", urlsplit(worker["TICKETPULSE_REDIS_URL"]).netloc))
    kafka = environment(services()["kafka"])
    for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","):
        found.append(("kafka advertised", listener.partition("://")[2]))
    for voter in kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","):
        found.append(("kafka voters", voter.partition("@")[2]))
    for name, service in ticketpulse_services().items():
        args = command_args(service)
        if "--kafka" in args:
            found.append((f"{name} --kafka", args[args.index("--kafka") + 1]))
    return found


def health_urls(service: dict[str, Any]) -> list[str]:
    test = service.get("healthcheck", {}).get("test", [])
    return HEALTH_URL.findall(" ".join(test) if isinstance(test, list) else test)


def test_every_ticketpulse_command_passes_the_clis_own_parser() -> None:
    commands = {}
    for name, service in ticketpulse_services().items():
        assert service.get("image") == "ticketpulse:local", name
        commands[name] = check_command(command_args(service), environment(service))
    assert commands == {"worker": "worker", "simulator": "simulate"}


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["simulate", "--kafka", "kafka:9092"], "exactly one of --events and --duration"),
        (["simulate", "--kafka", "kafka:9092", "--realtime", "--max-rate", "5"], "pace"),
        (["simulate", "--kafka", "kafka:9092", "--events", "x"], "not a valid integer"),
        (["worker", "--web-port", "http"], "not a valid integer"),
        (["simulator"], "No such command"),
    ],
)
def test_the_command_check_catches_what_would_stop_a_container(
    args: list[str], problem: str
) -> None:
    import click

    with pytest.raises(click.ClickException, match=problem):
        check_command(args, {})


def test_every_address_names_a_service_and_a_port_it_listens_on() -> None:
    ports = listening()
    named = addresses()
    assert {where for where, _ in named} >= {"prometheus job ticketpulse", "simulator --kafka"}
    for where, address in named:
        host, _, port = address.rpartition(":")
        host = "prometheus" if (where, host) == ("prometheus job prometheus", "localhost") else host
        assert host in services(), f"{where}: {address} is no service"
        assert int(port) in ports[host], f"{where}: {host} does not listen on {port}"


def test_the_worker_listens_where_prometheus_scrapes_it() -> None:
    settings = worker_settings()
    # 127.0.0.1 would take only the container's own connections: Prometheus's scrape of
    # worker:6066 comes from another container
    assert settings.web_host in {"0.0.0.0", "::"}
    assert str(settings.web_port) in [str(p) for p in services()["worker"].get("expose", [])]


def test_healthchecks_ask_a_port_the_service_listens_on_and_the_worker_its_readiness() -> None:
    ports = listening()
    for name, service in services().items():
        for url in health_urls(service):
            parts = urlsplit(url)
            assert parts.hostname in {"127.0.0.1", "localhost"}, (name, url)
            assert parts.port in ports[name], (name, url)
    (worker,) = health_urls(services()["worker"])
    assert urlsplit(worker).path == "/readyz"  # 503 until it owns partitions and reaches Redis
    routes = (REPO / "streams" / "live" / "routes.py").read_text(encoding="utf-8")
    assert '@app.page("/readyz")' in routes


def test_kafka_creates_topics_with_the_workers_partition_count() -> None:
    kafka = environment(services()["kafka"])
    assert int(kafka["KAFKA_NUM_PARTITIONS"]) == worker_settings().partitions


def test_the_simulator_sends_live_traffic() -> None:
    args = command_args(services()["simulator"])
    assert "--realtime" in args
    assert args[args.index("--start") + 1] == "now"  # events of today, not a backfill


def test_the_simulator_runs_a_crm_of_a_few_thousand_accounts() -> None:
    """The Accounts board has data: CRM traffic for a book of thousands, not hundreds of
    thousands, of accounts at the simulator's ticket rate (docs/docker.md)."""
    from streams.cli import main
    from streams.simulator.accounts import population

    args = command_args(services()["simulator"])
    context = main.make_context("ticketpulse", list(args))
    name, command, rest = main.resolve_command(context, list(args))
    assert name == "simulate" and command is not None
    params = command.make_context(name, rest, parent=context).params
    accounts = population(params["accounts_rate"], params["rate"])
    assert 2_000 <= accounts <= 10_000, accounts
    docs = (REPO / "docs" / "docker.md").read_text(encoding="utf-8")
    assert f"--accounts-rate {args[args.index('--accounts-rate') + 1]}`" in docs
    assert f"about {accounts:,} accounts" in docs


# --- one alert path ------------------------------------------------------------------------

GRAFANA_ALERTING = "grafana/provisioning/alerting"
OVERRIDE = COMPOSE_DIR / "grafana-alerting.yml"


def merged_mounts(service: str, *documents: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path, later files winning per container path (compose's merge)."""
    mounts: dict[str, str] = {}
    for document in documents:
        for source, target in volume_mounts(document["services"].get(service, {})):
            mounts[target] = source
    return mounts


def grafana_provisions_alerting(mounts: dict[str, str]) -> bool:
    alerting = (REPO / GRAFANA_ALERTING).resolve()
    return any(
        alerting == (REPO / source).resolve() or alerting.is_relative_to((REPO / source).resolve())
        for source in mounts.values()
        if is_host_path(source)
    )


def prometheus_rule_files(mounts: dict[str, str]) -> list[Path]:
    (pattern,) = load_yaml(COMPOSE_DIR / "prometheus.yml")["rule_files"]
    directory, _, glob = pattern.rpartition("/")
    return sorted((REPO / mounts[directory]).glob(glob)) if directory in mounts else []


def test_alerts_take_one_path_by_default_prometheus_and_alertmanager() -> None:
    grafana = merged_mounts("grafana", compose())
    prometheus = merged_mounts("prometheus", compose())
    assert not grafana_provisions_alerting(grafana)
    assert prometheus_rule_files(prometheus) == [
        REPO / "deploy" / "prometheus" / "rules" / "ticketpulse.rules.yml"
    ]


def test_the_grafana_alerting_override_swaps_the_path_and_passes_the_spec() -> None:
    override = load_yaml(OVERRIDE)
    grafana = merged_mounts("grafana", compose(), override)
    prometheus = merged_mounts("prometheus", compose(), override)
    assert grafana_provisions_alerting(grafana)
    assert grafana["/etc/grafana/provisioning/alerting"] == "./" + GRAFANA_ALERTING
    assert prometheus_rule_files(prometheus) == []
    for source, _ in volume_mounts(override["services"]["prometheus"]):
        assert (REPO / source).is_dir(), source
    assert compose_spec_problems(OVERRIDE) == ""


# --- Prometheus and Alertmanager ---------------------------------------------------------


def test_prometheus_scrapes_the_worker_and_alerts_through_alertmanager() -> None:
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    assert mount_target("prometheus", "deploy/compose/prometheus.yml") == (
        "/etc/prometheus/prometheus.yml"
    )
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    web_port = environment(services()["worker"])["TICKETPULSE_WEB_PORT"]
    assert f"worker:{web_port}" in targets
    for target in targets:
        host = target.rsplit(":", 1)[0]
        assert host == "localhost" or host in services(), target
    alertmanagers = [
        target
        for manager in config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    ]
    assert alertmanagers == [f"alertmanager:{ALERTMANAGER_PORT}"]


def test_alertmanager_routes_to_a_default_webhook_receiver() -> None:
    config = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    assert mount_target("alertmanager", "deploy/compose/alertmanager.yml") == (
        "/etc/alertmanager/alertmanager.yml"
    )
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    default = receivers[config["route"]["receiver"]]
    assert [hook["url"] for hook in default["webhook_configs"]]


def test_inhibit_rules_name_real_alerts_and_labels_both_alerts_carry() -> None:
    """Each rule mutes one generated alert by another, on labels both carry; the local stack's
    Alertmanager mutes alike. (tests/integration/test_alertmanager_inhibit.py runs them.)"""
    from streams.grafana.alerts import ALERTS

    by_name = {alert.name: alert for alert in ALERTS}
    compose_rules = load_yaml(COMPOSE_DIR / "alertmanager.yml")["inhibit_rules"]
    local_rules = load_yaml(REPO / "deploy" / "alertmanager" / "alertmanager.yml")["inhibit_rules"]
    assert compose_rules == local_rules
    pairs = set()
    for rule in compose_rules:
        names = []
        for side in ("source_matchers", "target_matchers"):
            found = [m for m in rule[side] if m.startswith("alertname")]
            (matcher,) = found
            pattern = matcher.split("=", 1)[1].lstrip("~").strip('"')
            matched = [n for n in by_name if re.fullmatch(pattern, n)]
            assert matched, matcher
            names.append(matched)
        for source in names[0]:
            for target in names[1]:
                pairs.add((source, target))
                for label in rule["equal"]:  # a label missing on either side never matches
                    for name in (source, target):
                        alert = by_name[name]
                        assert label in alert.all_labels() or label in alert.query, (name, label)
    assert pairs == {
        ("TicketpulseSlaBudgetBurnFast", "TicketpulseSlaBudgetBurnSlow"),
        ("TicketpulseWorkerDown", "TicketpulseNoEvents"),
        ("TicketpulseWorkerDown", "TicketpulseEventTimeLag"),
        ("TicketpulseSlaBreach", "TicketpulseTeamSlaBreach"),
    }


def _receivers(config: Path, labels: dict[str, str]) -> list[str]:
    """Where Alertmanager routes an alert with ``labels``, as ``amtool`` says."""
    binary = shutil.which("amtool")
    if binary is None:
        pytest.skip("amtool is not installed (it comes with the local Prometheus stack)")
    args = [f"{name}={value}" for name, value in labels.items()]
    result = subprocess.run(
        [binary, "config", "routes", "test", f"--config.file={config}", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().split(",")


@pytest.mark.parametrize(
    "config",
    [COMPOSE_DIR / "alertmanager.yml", REPO / "deploy" / "alertmanager" / "alertmanager.yml"],
    ids=["compose", "local"],
)
def test_account_alerts_reach_the_account_managers_and_no_one_else(config: Path) -> None:
    from streams.grafana.alerts import ALERTS

    (alert,) = [a for a in ALERTS if a.all_labels()["category"] == "accounts"]
    labels = {"alertname": alert.name, **alert.all_labels(), "segment": "enterprise"}
    assert _receivers(config, labels) == ["account-managers"]
    breach = {"alertname": "TicketpulseSlaBreach", "service": "ticketpulse", "category": "sla"}
    paging = _receivers(config, {**breach, "severity": "critical", "target": "first_reply"})
    assert "account-managers" not in paging


@pytest.mark.parametrize(
    ("tool", "args", "path"),
    [
        ("promtool", ["check", "config"], "prometheus.yml"),
        ("amtool", ["check-config"], "alertmanager.yml"),
        ("amtool", ["check-config"], "../alertmanager/alertmanager.yml"),
    ],
)
def test_config_passes_the_upstream_checker(tool: str, args: list[str], path: str) -> None:
    binary = shutil.which(tool)
    if binary is None:
        pytest.skip(f"{tool} is not installed (it comes with the local Prometheus stack)")
    result = subprocess.run(
        [binary, *args, str(COMPOSE_DIR / path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana provisioning ----------------------------------------------------------------


def test_grafana_mounts_provisioning_and_dashboards_where_grafana_reads_them() -> None:
    for kind in ("datasources", "dashboards"):
        assert mount_target("grafana", f"grafana/provisioning/{kind}") == (
            f"/etc/grafana/provisioning/{kind}"
        )
    assert mount_target("grafana", "grafana/dashboards") == "/var/lib/grafana/dashboards"


def test_grafana_datasource_is_the_compose_prometheus_with_a_fixed_uid() -> None:
    config = load_yaml(GRAFANA_PROVISIONING / "datasources" / "prometheus.yml")
    assert config["apiVersion"] == 1
    datasources = config["datasources"]
    for datasource in datasources:
        for field in ("name", "type", "uid", "url"):
            assert datasource.get(field), field
    assert [d["uid"] for d in datasources if d.get("isDefault")] == ["ticketpulse-prometheus"]
    (prometheus,) = datasources
    url = urlsplit(prometheus["url"])
    assert prometheus["type"] == "prometheus"
    assert (url.hostname, url.port) == ("prometheus", PUBLISHED["prometheus"])
    assert "prometheus" in services()


def test_grafana_dashboard_provider_reads_the_mounted_dashboards() -> None:
    config = load_yaml(GRAFANA_PROVISIONING / "dashboards" / "provider.yml")
    assert config["apiVersion"] == 1
    for provider in config["providers"]:
        assert provider["name"]
        assert provider["type"] == "file"
        assert provider["options"]["path"] == mount_target("grafana", "grafana/dashboards")
    assert [provider["folder"] for provider in config["providers"]] == ["ticketpulse"]


# --- Dockerfile and build context --------------------------------------------------------


def test_dockerfile_installs_the_package_and_runs_it_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    bases = [rest.split()[0] for keyword, rest in instructions if keyword == "FROM"]
    assert bases and set(bases) == {"python:3.11-slim"}
    users = [rest.split(":")[0] for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any(re.search(r"\bpip install \.$", run) for run in runs)
    exec_form = {k: json.loads(rest) for k, rest in instructions if k in {"ENTRYPOINT", "CMD"}}
    assert exec_form == {"ENTRYPOINT": ["ticketpulse"], "CMD": ["worker"]}
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "ticketpulse" in project["scripts"]


def test_every_file_the_dockerfile_copies_is_in_the_build_context() -> None:
    copied = []
    for keyword, rest in dockerfile_instructions():
        args = shlex.split(rest)
        if keyword == "COPY" and not any(arg.startswith("--from") for arg in args):
            copied += [arg for arg in args[:-1] if not arg.startswith("--")]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["readme"] in copied, "pip install . reads the readme named in pyproject"
    for source in copied:
        path = REPO / source
        assert path.exists(), f"the Dockerfile copies {source}, which is missing"
        files = [p for p in path.rglob("*.py")] if path.is_dir() else [path]
        for file in [path, *files]:
            relative = file.relative_to(REPO).as_posix()
            assert not dockerignored(relative), f".dockerignore leaves out {relative}"


@pytest.mark.parametrize("path", [".env", ".git/config", ".venv/bin/python", "tests/unit"])
def test_build_context_leaves_out_secrets_and_local_state(path: str) -> None:
    assert dockerignored(path)
