"""Targets, result rows and their Markdown rendering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.harness import WrkResult


@dataclass(frozen=True)
class Target:
    """What a row must reach; any part left as None does not apply."""

    min_ratio: float | None = None
    min_rps: float | None = None
    max_p99_ms: float | None = None
    max_p50_ms: float | None = None

    def describe(self) -> str:
        parts = []
        if self.max_p50_ms is not None:
            parts.append(f"p50 < {self.max_p50_ms:g} ms")
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:.0%} of ceiling")
        if self.min_rps is not None:
            parts.append(f">= {self.min_rps:,.0f} req/s")
        if self.max_p99_ms is not None:
            parts.append(f"p99 < {self.max_p99_ms:g} ms")
        return ", ".join(parts)


@dataclass(frozen=True)
class Row:
    endpoint: str
    database: str
    workers: int
    ours: WrkResult
    ceiling: WrkResult | None
    target: Target | None

    @property
    def ratio(self) -> float | None:
        return None if self.ceiling is None else self.ours.requests_per_s / self.ceiling.requests_per_s

    @property
    def errors(self) -> int:
        return self.ours.non_2xx + self.ours.socket_errors

    def result(self) -> str:
        target = self.target
        if target is None:
            return "-"
        ratio = self.ratio
        met = [self.errors == 0]
        if target.min_ratio is not None:
            met.append(ratio is not None and ratio >= target.min_ratio)
        if target.min_rps is not None:
            met.append(self.ours.requests_per_s >= target.min_rps)
        if target.max_p99_ms is not None:
            met.append(self.ours.p99_ms < target.max_p99_ms)
        if target.max_p50_ms is not None:
            met.append(self.ours.p50_ms < target.max_p50_ms)
        return "pass" if all(met) else "short"

    def cells(self) -> list[str]:
        ratio = self.ratio
        errors = str(self.ours.non_2xx)
        if self.ours.socket_errors:
            errors += f" (+{self.ours.socket_errors} socket)"
        return [
            self.endpoint,
            self.database,
            str(self.workers),
            f"{self.ours.requests_per_s:,.0f}",
            f"{self.ours.p50_ms:.2f}",
            f"{self.ours.p99_ms:.2f}",
            errors,
            "-" if self.ceiling is None else f"{self.ceiling.requests_per_s:,.0f}",
            "-" if ratio is None else f"{ratio:.1%}",
            "-" if self.target is None else self.target.describe(),
            self.result(),
        ]


ROW_HEADER = [
    "endpoint",
    "database",
    "workers",
    "req/s",
    "p50 ms",
    "p99 ms",
    "non-2xx",
    "ceiling req/s",
    "ratio",
    "target",
    "result",
]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])
