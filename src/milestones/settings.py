"""The service's configuration: one typed object read from MILESTONES_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="Longest wait for a request's line and headers (from the connection or its first byte), then 408",
    )
    migrate_on_start: bool = Field(default=True, description="Apply migrations when `serve` starts")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    postgres_pool_size: int = Field(default=10, ge=1, le=200)
    postgres_connect_timeout_seconds: float = Field(
        default=5, gt=0, le=300, description="Longest wait to open a PostgreSQL connection (TCP and authentication)"
    )
    postgres_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="Longest wait for a pooled PostgreSQL connection, and for any one statement of a request",
    )
    log_level: str = "info"

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://")):
            return url
        raise ValueError("must start with sqlite:/// (a file path) or postgresql://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:///")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))
