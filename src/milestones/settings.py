"""The service's configuration: one typed object read from MILESTONES_* environment variables."""

from __future__ import annotations

import base64
import binascii
import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import limits
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from milestones.access.keys import AccessKey, parse_key_list
from milestones.domain import LostThreshold

# Lists are comma-separated in the environment (not JSON), as people write them by hand.
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Validated once at start-up; everything configurable lives here."""

    model_config = SettingsConfigDict(env_prefix="MILESTONES_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///milestones.sqlite3",
        description="sqlite:///relative.db, sqlite:////absolute.db or postgresql://user@host:port/db",
    )
    catalog_path: Path | None = Field(default=None, description="A TOML catalog replacing the packaged one")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    body_timeout_seconds: float = Field(
        default=10, gt=0, le=300, description="Longest wait for the next part of a request body before a 408"
    )
    body_deadline_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="Longest time a whole request body may take, from its first read, before a 408",
    )
    header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="Longest wait for a request's line and headers (from the connection or its first byte), then 408",
    )
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request head (request line and headers) in bytes; a larger one is answered 431",
    )
    max_header_fields: int = Field(
        default=100, ge=10, le=10_000, description="Most header fields a request may have; more is answered 431"
    )
    on_lost_threshold: LostThreshold = Field(
        default=LostThreshold.KEEP,
        description="When a correction or a removed period takes a mentor's value below an achieved milestone's "
        "threshold: keep it (achieved, marked supported: false) or revoke it (reason: data corrected)",
    )
    migrate_on_start: bool = Field(default=True, description="Apply migrations when `serve` starts")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    postgres_pool_size: int = Field(default=10, ge=1, le=200)
    database_replica_urls: CommaList = Field(
        default_factory=list,
        description="Comma-separated postgresql:// URLs of streaming replicas of the database: reads of mentor data "
        "go to one that has caught up (see MILESTONES_REPLICA_MAX_LAG_SECONDS), everything else to the primary",
        repr=False,
    )
    replica_max_lag_seconds: float = Field(
        default=5,
        gt=0,
        le=3600,
        description="How far behind the primary a replica may be and still serve reads; past it, or unreachable, "
        "reads go to the primary",
    )
    postgres_connect_timeout_seconds: float = Field(
        default=5, gt=0, le=300, description="Longest wait to open a PostgreSQL connection (TCP and authentication)"
    )
    postgres_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="Longest wait for a pooled PostgreSQL connection, and for any one statement of a request",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="critical, error, warning, info or debug"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json, text, or auto: text on a terminal, JSON otherwise"
    )
    root_path: str = Field(
        default="",
        pattern=r"^(/[A-Za-z0-9._~-]+)*$",
        description="The path prefix the service is mounted under behind a proxy that strips it (/milestones)",
    )
    shutdown_timeout_seconds: int = Field(
        default=30, ge=1, le=3600, description="On SIGTERM, how long requests in flight may take to finish"
    )
    api_keys: Annotated[list[AccessKey], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated KEY or KEY:scope (read, write, admin; a bare key has every scope); "
        "sha256:<hex> gives a key by its digest",
        repr=False,
    )
    read_requires_key: bool = Field(
        default=False,
        description="Reads of mentor data need a key with the read scope (badges, docs, health stay open)",
    )
    metrics_require_key: bool | None = Field(
        default=None,
        description="/metrics needs a key with the read scope; unset, it follows MILESTONES_READ_REQUIRES_KEY",
    )
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks whose forwarding header (MILESTONES_PROXY_HEADER) is "
        "believed",
    )
    # After trusted_proxies, which its validator reads.
    proxy_header: Literal["forwarded", "x-forwarded-for"] | None = Field(
        default=None,
        validate_default=True,
        description="The one header the trusted proxies set with the client's address: forwarded or "
        "x-forwarded-for; required when MILESTONES_TRUSTED_PROXIES is set",
    )
    ipv6_prefix: int = Field(
        default=64,
        ge=16,
        le=128,
        description="IPv6 clients are counted per network of this prefix length (a host usually holds a /64)",
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Comma-separated origins (https://app.example.org) allowed to call from a browser",
    )

    embed_origins: CommaList = Field(
        default_factory=list,
        description="Comma-separated origins (https://platform.example.org) whose pages may frame a mentor's card",
    )
    page_link_secret: str | None = Field(
        default=None,
        min_length=16,
        description="Signs links to mentors' pages (`milestones page-link`); required when reads need a key",
    )
    rate_limit_reads: str | None = Field(
        default=None,
        description="Reads (GET, HEAD) allowed per access key, or per client address without one, such as "
        "600/minute; no limit when unset",
    )
    rate_limit_writes: str | None = Field(
        default=None,
        description="Writes (POST, PUT, DELETE) allowed per access key, or per client address without one, "
        "such as 60/minute; no limit when unset",
    )
    failed_auth_limit: str | None = Field(
        default="20/minute",
        description="Answers 401 (no key, a wrong key, a bad signed link) allowed per client address, such as "
        "20/minute; past it that address is answered 429 wherever a key or link is checked. Empty: no limit",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:6379/0 (or rediss://, unix://): rate limit counts shared by every worker and "
        "host; without it each worker process counts on its own",
        repr=False,
    )

    erasure_salt: str | None = Field(
        default=None,
        min_length=16,
        description="Salts the hash that names an erased mentor in history; unset, one is made on first use "
        "and kept in the database",
        repr=False,
    )
    history_retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="Days history entries are kept; `milestones prune` and `serve` (hourly) remove older ones. "
        "Unset keeps everything",
    )

    event_retention_days: int = Field(
        default=30,
        ge=1,
        le=36500,
        description="Days events are kept in the outbox (GET /api/v1/events); `milestones prune` and `serve` "
        "(hourly) remove older ones, and a feed cursor older than this is answered 410",
    )
    public_url: str | None = Field(
        default=None,
        description="The service's public address (https://milestones.example.org): the `source` of every event; "
        "unset, events say /milestones",
    )

    issuer_id: str | None = Field(
        default=None,
        description="The URL or DID that names the issuer of Open Badges credentials (with the issuer's name and URL; "
        "credentials are answered only when all three are set)",
    )
    issuer_name: str | None = Field(default=None, description="The issuer's name in Open Badges credentials")
    issuer_url: str | None = Field(default=None, description="The issuer's web site in Open Badges credentials")
    credential_algorithm: Literal["RS256", "EdDSA"] = Field(
        default="RS256",
        description="How credentials are signed as VC-JWTs: RS256 (RSA, which every Open Badges verifier supports) "
        "or EdDSA (Ed25519)",
    )
    credential_key: str | None = Field(
        default=None,
        description="The PEM private key that signs credentials (RSA for RS256, Ed25519 for EdDSA); unset, with no "
        "key file, one is made on first use and kept in the database (a quick start only)",
        repr=False,
    )
    credential_key_file: Path | None = Field(
        default=None, description="A file holding the PEM private key that signs credentials (instead of the variable)"
    )

    secret_key: str | None = Field(
        default=None,
        description="A Fernet key (32 url-safe base64 bytes) that encrypts webhook signing secrets at rest; unset, "
        "they are stored as they are",
        repr=False,
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach private, loopback and link-local addresses (for tests and closed networks)",
    )
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, le=120, description="Longest a webhook delivery may take, from connecting to the last byte"
    )
    webhook_concurrency: int = Field(default=8, ge=1, le=256, description="Webhook deliveries in flight per worker")
    webhook_poll_seconds: float = Field(
        default=1, gt=0, le=60, description="How often each worker looks for events to deliver"
    )
    webhook_retry_base_seconds: float = Field(
        default=5, gt=0, le=3600, description="The first retry's wait; each next one waits four times longer"
    )
    webhook_retry_hours: float = Field(
        default=24, gt=0, le=720, description="How long a failing delivery is retried before its endpoint is disabled"
    )

    @field_validator("secret_key")
    @classmethod
    def _fernet_key(cls, key: str | None) -> str | None:
        if key is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be a Fernet key: 32 bytes in url-safe base64 (44 characters)")
        return key

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://")):
            return url
        raise ValueError("must start with sqlite:/// (a file path) or postgresql://")

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _replica_urls(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        urls = [part.strip() for part in value.split(",") if part.strip()]
        for url in urls:
            if not url.startswith(("postgresql://", "postgres://")):
                raise ValueError("must be postgresql:// URLs, separated by commas")
        return urls

    @field_validator("database_replica_urls")
    @classmethod
    def _replicas_of_postgres(cls, urls: list[str], info: ValidationInfo) -> list[str]:
        if urls and str(info.data.get("database_url", "")).startswith("sqlite:///"):
            raise ValueError("replicas are PostgreSQL's: MILESTONES_DATABASE_URL must be postgresql:// too")
        return urls

    @field_validator("api_keys", mode="before")
    @classmethod
    def _key_list(cls, value: object) -> object:
        return parse_key_list(value) if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return [ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
        except ValueError as exc:
            raise ValueError(f"must be IP addresses or networks: {exc}") from None

    @field_validator("cors_origins", "embed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        origins = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        for origin in origins:
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.org")
        return origins

    @field_validator("proxy_header", mode="before")
    @classmethod
    def _header_name(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @field_validator("proxy_header")
    @classmethod
    def _header_for_proxies(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("trusted_proxies"):
            # Reading both would let a client's own Forwarded header win over what the proxy appended.
            raise ValueError(
                "required when MILESTONES_TRUSTED_PROXIES is set: forwarded or x-forwarded-for, the one header "
                "those proxies set"
            )
        return value

    @field_validator("rate_limit_reads", "rate_limit_writes", "failed_auth_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            rates = limits.parse_many(value)
        except ValueError:
            rates = []
        if len(rates) != 1 or rates[0].amount < 1:
            raise ValueError(
                "must be one rate such as 600/minute: a whole number of requests of at least 1, per second, "
                "minute, hour or day (or per N of them, as in 100/5 minutes)"
            )
        return value.strip()

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018  (reading it checks it is a number from 0 to 65535)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise ValueError("must be a Redis URL: redis://host:6379/0, rediss://host:6380/0 or unix:///path/to/socket")
        return url.strip()

    @property
    def rate_limited(self) -> bool:
        return self.rate_limit_reads is not None or self.rate_limit_writes is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:///")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))
