"""Settings from the environment and a ``.env`` file, validated once at start-up.

``load()`` turns any validation failure into one :class:`ConfigError` line that names the
settings at fault, which the CLI prints before exiting with code 2.
"""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, Field, HttpUrl, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from profbot.errors import ConfigError
from profbot.sentinel import is_sentinel_url, parse_sentinel_url, sentinel_url

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"


def _listen_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:3000")
    return value


def _redis_url(value: str) -> str:
    if is_sentinel_url(value):
        parse_sentinel_url(value)  # its ValueError says what is wrong
        return value
    if not re.match(r"^(redis|rediss|unix)://", value):
        raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
    return value


def without_password(url: str) -> str:
    """``url`` fit for a log line or an error message: any password in it replaced. The password
    runs to the last ``@`` of the URL: one holding ``/`` or ``@`` is hidden whole, never cut short
    at its first such character."""
    return re.sub(r"(://[^/@:\s]*:)\S*@", r"\1***@", url)


def _container_host(value: str) -> str:
    if not re.match(r"^(unix|tcp|http|ssh)://", value):
        raise ValueError("must be a podman socket URL such as unix:///run/podman/podman.sock")
    return value


SHELL_USER = r"shell:[a-z_][a-z0-9_.-]{0,31}"  # someone at profbot's terminal, by login name


def _principals_check(value: str) -> str:
    for item in _principals(value):
        if not re.fullmatch(rf"[UWS][A-Z0-9]{{2,30}}|{SHELL_USER}", item):
            raise ValueError(
                f"{item!r} is not a Slack user id (U..., W...), a user group id (S...) or a terminal user (shell:NAME)"
            )
    return value


def _app_token(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().startswith("xapp-"):
        raise ValueError("must be the app-level token, which starts with xapp- (not the bot token xoxb-)")
    return value


def default_state_dir() -> Path:
    """Where profbot keeps its own state on this machine (the embedded Redis, the shell's history)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "profbot"


def _principals(value: str) -> frozenset[str]:
    return frozenset(item.strip() for item in value.split(",") if item.strip())


ListenAddress = Annotated[str, AfterValidator(_listen_address)]
Principals = Annotated[str, AfterValidator(_principals_check)]
AppToken = Annotated[SecretStr, AfterValidator(_app_token)]
# `~` expanded and made absolute: it becomes a unix socket's path, which must not be relative.
StateDir = Annotated[Path, AfterValidator(lambda p: p.expanduser().resolve())]
RedisURL = Annotated[str, AfterValidator(_redis_url)]
ContainerHostURL = Annotated[str, AfterValidator(_container_host)]


class CommonSettings(BaseSettings):
    """What the bot and every runner share: where the job bus lives."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # None: profbot's own Redis on this machine (profbot/embedded_redis.py), under the state dir.
    redis_url: RedisURL | None = Field(None, alias="REDIS_URL")
    redis_prefix: str = Field("profbot", alias="PROFBOT_REDIS_PREFIX", pattern=NAME_PATTERN)
    log_level: str = Field("info", alias="PROFBOT_LOG_LEVEL", pattern="^(debug|info|warning|error)$")
    # console: key=value lines for people; json: one JSON object a line (every library's lines too).
    log_format: Literal["console", "json"] = Field("console", alias="PROFBOT_LOG_FORMAT")
    state_dir: StateDir = Field(default_factory=default_state_dir, alias="PROFBOT_STATE_DIR")
    # Redis Sentinel instead of REDIS_URL: the sentinels (HOST:PORT,...) and the primary's name there.
    redis_sentinels: str | None = Field(None, alias="REDIS_SENTINELS", min_length=1)
    redis_sentinel_master: str | None = Field(None, alias="REDIS_SENTINEL_MASTER", pattern=NAME_PATTERN)
    # Replicas that must acknowledge (WAIT) a change's state and step claims, results and alerts;
    # default 1 with Sentinel, else 0 (no waiting). How long to wait for them: under the client's
    # 5 s socket timeout (profbot/redis_access.py), or a long WAIT is cut off as a lost connection
    # and redis-py sends the pipeline it ends (the alert ledger's writes) a second time.
    redis_min_replicas_acks: int | None = Field(None, alias="REDIS_MIN_REPLICAS_ACKS", ge=0, le=10)
    redis_wait_timeout_ms: int = Field(1000, alias="REDIS_WAIT_TIMEOUT_MS", ge=10, le=4_000)

    @model_validator(mode="after")
    def _sentinel_url(self) -> CommonSettings:
        if self.redis_sentinels is None and self.redis_sentinel_master is None:
            return self
        if not self.redis_sentinels or not self.redis_sentinel_master:
            raise ValueError("REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together: set both, or neither")
        if self.redis_url is not None:
            raise ValueError(
                "REDIS_URL and REDIS_SENTINELS are both set: set one (a password goes in "
                "REDIS_URL=redis+sentinel://:PASSWORD@HOST:PORT,HOST:PORT/MASTER)"
            )
        try:
            self.redis_url = sentinel_url(self.redis_sentinels, self.redis_sentinel_master)
        except ValueError as exc:
            raise ValueError(f"REDIS_SENTINELS is invalid ({exc})") from None
        return self

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json"


class BotSettings(CommonSettings):
    """What every front end's use cases need: who may do what, and how changes run."""

    # How long the bot waits for a runner's answer before telling the user it has none.
    job_timeout_seconds: float = Field(20.0, alias="PROFBOT_JOB_TIMEOUT", gt=0, le=600)
    # Who may do what: Slack user ids (U..., W...), user group ids (S..., resolved with
    # usergroups.users.list) and terminal users (shell:NAME), comma-separated. Everyone else may
    # use help and health only.
    operators: Principals = Field("", alias="PROFBOT_OPERATORS")
    approvers: Principals = Field("", alias="PROFBOT_APPROVERS")
    # How long a change waits for its confirmation or approval before it expires.
    approval_ttl_seconds: float = Field(900.0, alias="PROFBOT_APPROVAL_TTL", ge=1, le=86400)
    # The same change on the same target at most this many times per hour; beyond: escalate.
    changes_per_hour: int = Field(3, alias="PROFBOT_CHANGES_PER_HOUR", ge=1, le=100)
    # How long the verification after a change may take (e.g. /ready after a restart).
    verify_seconds: float = Field(60.0, alias="PROFBOT_VERIFY_SECONDS", ge=1, le=900)
    # How long a running change outlives its bot process: past it (plus the deadline of the step it
    # sent), another bot's sweeper calls it "outcome unknown". Its executor renews it meanwhile.
    executor_lease_seconds: float = Field(60.0, alias="PROFBOT_EXECUTOR_LEASE_SECONDS", ge=2, le=3600)

    @property
    def operator_ids(self) -> frozenset[str]:
        return _principals(self.operators)

    @property
    def approver_ids(self) -> frozenset[str]:
        return _principals(self.approvers)


class ShellSettings(BotSettings):
    """``profbot shell``: the terminal front end."""


class ServeSettings(BotSettings):
    """``profbot serve``: Slack (over Socket Mode, or HTTP) and the alert webhooks."""

    slack_bot_token: SecretStr = Field(alias="SLACK_BOT_TOKEN", min_length=1)
    # Socket Mode when set (no public URL needed); else Slack's HTTP requests, signed.
    slack_app_token: AppToken | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET", min_length=1)
    slack_api_url: HttpUrl = Field(HttpUrl("https://slack.com/api/"), alias="SLACK_API_URL")
    listen: ListenAddress = Field("127.0.0.1:3000", alias="PROFBOT_LISTEN")
    command: str = Field("/prof", alias="PROFBOT_COMMAND", pattern=r"^/[a-z0-9_-]{1,31}$")
    # Where every audit event is mirrored, when set (a channel id the bot is in).
    audit_channel: str | None = Field(None, alias="PROFBOT_AUDIT_CHANNEL", pattern=r"^[CG][A-Z0-9]{2,30}$")

    # Alert intake (POST /alerts/alertmanager, /alerts/grafana): the bearer token both must carry,
    # Grafana's optional HMAC secret, and the channel where each alert group gets its thread.
    alert_token: SecretStr | None = Field(None, alias="PROFBOT_ALERT_TOKEN", min_length=16)
    grafana_hmac_secret: SecretStr | None = Field(None, alias="PROFBOT_GRAFANA_HMAC_SECRET", min_length=1)
    # The headers the contact point's hmacConfig names (Grafana has no default timestamp header;
    # deploy/alerting/grafana-contact-point.yml sets this one). Empty: no timestamp, no replay check.
    grafana_hmac_header: str = Field(
        "X-Grafana-Alerting-Signature", alias="PROFBOT_GRAFANA_HMAC_HEADER", pattern=r"^[A-Za-z0-9-]{1,100}$"
    )
    grafana_hmac_timestamp_header: str = Field(
        "X-Grafana-Alerting-Signature-Timestamp",
        alias="PROFBOT_GRAFANA_HMAC_TIMESTAMP_HEADER",
        pattern=r"^[A-Za-z0-9-]{0,100}$",
    )
    alert_channel: str | None = Field(None, alias="PROFBOT_ALERT_CHANNEL", pattern=r"^[CG][A-Z0-9]{2,30}$")
    # alertname=PROCEDURE pairs added to (or overriding) the built-in table, e.g. "PyroDown=INC-PROF-001".
    alert_procedures: str = Field("", alias="PROFBOT_ALERT_PROCEDURES", pattern=r"^([A-Za-z0-9_:.-]+=[A-Z0-9-]+,?)*$")
    # A group firing again within this many seconds does not run its diagnosis again.
    alert_diagnosis_cooldown: float = Field(900.0, alias="PROFBOT_ALERT_DIAGNOSIS_COOLDOWN", ge=0, le=86400)
    # Messages per second per channel profbot allows itself (Slack's chat.postMessage: about 1/s).
    slack_channel_rate: float = Field(1.0, alias="PROFBOT_SLACK_CHANNEL_RATE", gt=0, le=100)
    # How long a resolved alert group stays in Redis (its thread, its alerts), in days.
    alert_retention_days: float = Field(30, alias="PROFBOT_ALERT_RETENTION_DAYS", gt=0, le=3650)
    # Where the alert threads' Silence buttons make silences (Alertmanager's API v2): the deployment's
    # own address, never a webhook's externalURL. Unset: the threads offer no silence and say why.
    alertmanager_url: HttpUrl | None = Field(None, alias="PROFBOT_ALERTMANAGER_URL")
    # A file holding the bearer token Alertmanager (or the proxy before it) wants, if any.
    alertmanager_token_file: Path | None = Field(None, alias="PROFBOT_ALERTMANAGER_TOKEN_FILE")
    # A file holding user:password for basic auth, if any (not with the token file).
    alertmanager_basic_auth_file: Path | None = Field(None, alias="PROFBOT_ALERTMANAGER_BASIC_AUTH_FILE")
    # Open connections the HTTP edge takes at once; past it a client gets 503 (bot/edge.py).
    max_connections: int = Field(512, alias="PROFBOT_MAX_CONNECTIONS", ge=8, le=100_000)

    @model_validator(mode="after")
    def _complete(self) -> ServeSettings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError("SLACK_SIGNING_SECRET is missing")  # (or SLACK_APP_TOKEN, for Socket Mode)
        if self.alert_token is not None and not self.alert_channel:
            raise ValueError("PROFBOT_ALERT_CHANNEL is missing: alerts need a channel for their threads")
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def alert_procedure_table(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.alert_procedures.split(",") if "=" in item)
        return {name.strip(): procedure.strip() for name, procedure in pairs}


class RunnerSettings(CommonSettings):
    """``profbot runner``: the host-side executor of operations."""

    container_host: ContainerHostURL = Field("unix:///run/podman/podman.sock", alias="CONTAINER_HOST")
    host_id: str = Field(default_factory=socket.gethostname, alias="PROFBOT_HOST_ID", pattern=NAME_PATTERN)
    pyroscope_url: HttpUrl = Field(HttpUrl("http://localhost:4040"), alias="PYROSCOPE_URL")
    # The Pyroscope UI as people's browsers reach it, for the links under flamegraphs; default
    # PYROSCOPE_URL (without its credentials).
    pyroscope_ui_url: HttpUrl | None = Field(None, alias="PYROSCOPE_UI_URL")
    heartbeat_seconds: float = Field(5.0, alias="PROFBOT_HEARTBEAT_SECONDS", gt=0, le=60)
    concurrency: int = Field(8, alias="PROFBOT_RUNNER_CONCURRENCY", ge=1, le=64)
    # Upper bound on any single podman or HTTP call, so a hung socket cannot hold a job forever.
    call_timeout_seconds: float = Field(10.0, alias="PROFBOT_CALL_TIMEOUT", gt=0, le=300)

    # The compose project the runbook's podman-compose steps act on, and the files around it.
    compose_file: Path | None = Field(None, alias="PROFBOT_COMPOSE_FILE")
    env_file: Path | None = Field(None, alias="PROFBOT_ENV_FILE")  # default: .env beside the compose file
    pyroscope_config: Path | None = Field(None, alias="PROFBOT_PYROSCOPE_CONFIG")
    pyroscope_container: str = Field("pyroscope", alias="PROFBOT_PYROSCOPE_CONTAINER", pattern=NAME_PATTERN)
    pyroscope_volume: str = Field("pyroscope_data", alias="PROFBOT_PYROSCOPE_VOLUME", pattern=NAME_PATTERN)
    pyroscope_image: str = Field(
        "docker.io/grafana/pyroscope", alias="PROFBOT_PYROSCOPE_IMAGE", pattern=r"^[a-z0-9][a-z0-9._/:-]*$"
    )
    # Containers a change may touch besides the profiled ones (label pyroscope.profile=true).
    managed_containers: str = Field(
        "pyroscope,backend,grafana", alias="PROFBOT_MANAGED_CONTAINERS", pattern=r"^[a-zA-Z0-9_.,-]*$"
    )

    # Grafana (MAINT-PROF-003): its API, a token with datasource read rights, and where its
    # datasource provisioning files live on this host.
    grafana_url: HttpUrl = Field(HttpUrl("http://localhost:3002"), alias="GRAFANA_URL")
    grafana_token: SecretStr | None = Field(None, alias="GRAFANA_TOKEN")
    grafana_provisioning_dir: Path | None = Field(None, alias="PROFBOT_GRAFANA_PROVISIONING_DIR")
    grafana_container: str = Field("grafana", alias="PROFBOT_GRAFANA_CONTAINER", pattern=NAME_PATTERN)

    # How often the runner samples the Pyroscope volume's size (storage growth per day needs it).
    sample_seconds: float = Field(600.0, alias="PROFBOT_SAMPLE_SECONDS", ge=1, le=86400)
    # HOST:PORT where the runner serves GET /metrics (Prometheus); unset: no metrics server.
    metrics_listen: ListenAddress | None = Field(None, alias="PROFBOT_RUNNER_METRICS_LISTEN")

    @property
    def managed(self) -> frozenset[str]:
        return frozenset(name for name in self.managed_containers.split(",") if name)


class SlackPresence(BaseSettings):
    """Which Slack settings are given (read like the others, values not validated here)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: str = Field("", alias="SLACK_BOT_TOKEN")
    slack_app_token: str = Field("", alias="SLACK_APP_TOKEN")
    slack_signing_secret: str = Field("", alias="SLACK_SIGNING_SECRET")


def slack_presence() -> SlackPresence:
    return SlackPresence(_env_file=trusted_env_file())


def front_end() -> Literal["socket mode", "http", "shell"]:
    """What `profbot up` serves: Slack over Socket Mode when the bot and app-level tokens are set,
    Slack over HTTP when the bot token and the signing secret are, else the terminal."""
    given = slack_presence()
    if given.slack_bot_token and given.slack_app_token:
        return "socket mode"
    if given.slack_bot_token and given.slack_signing_secret:
        return "http"
    return "shell"


S = TypeVar("S", bound=CommonSettings)


def trusted_env_file(path: Path = Path(".env")) -> Path | None:
    """The working directory's ``.env``, read only when it is the caller's own and nobody else may
    write it: a ``.env`` planted by another account (or writable by a group) would otherwise set
    this process's Redis, tokens and roles."""
    try:
        info = path.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return path


def load(cls: type[S]) -> S:
    """Build settings ``cls`` from the environment, or raise one readable :class:`ConfigError`."""
    try:
        return cls(_env_file=trusted_env_file())
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"])
            if not name:  # a rule across settings: its message names them
                problems.append(str(err["msg"]).removeprefix("Value error, "))
            elif err["type"] == "missing":
                problems.append(f"{name} is missing")
            else:
                problems.append(f"{name} is invalid ({err['msg']})")
        raise ConfigError("; ".join(problems)) from None
