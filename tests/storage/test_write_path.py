"""Every write of periods and milestones goes through one function per database: `_apply` of each back end."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import milestones

PACKAGE = Path(milestones.__file__).parent
# The statements that write the two tables, under any alias, and PostgreSQL's COPY.
WRITES = re.compile(r"(UPSERT|DELETE|MERGE_BULK)_(MILESTONE|PERIOD)S?$|^copy_records_to_table$")


def functions_that_write(path: Path) -> list[str]:
    """The functions of a module that name a write statement (module-level aliases are not functions)."""
    tree = ast.parse(path.read_text())
    writers: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            name = inner.id if isinstance(inner, ast.Name) else inner.attr if isinstance(inner, ast.Attribute) else None
            if name is not None and WRITES.search(name.lstrip("_")):
                writers.append(node.name)
                break
    return writers


def test_one_function_per_database_writes_periods_and_milestones() -> None:
    writers = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts and (found := functions_that_write(path))
    }
    assert writers == {"storage/postgres.py": ["_apply"], "storage/sqlite.py": ["_apply"]}


def test_the_check_sees_a_second_writer(tmp_path: Path) -> None:
    """The check above would fail if another function wrote rows itself."""
    module = tmp_path / "writer.py"
    module.write_text(
        "def _apply(conn, change):\n    conn.executemany(queries.UPSERT_MILESTONE, change.milestones_written)\n"
        "async def sneaky(conn):\n    await conn.copy_records_to_table('milestones', records=[])\n"
        "def reader(conn):\n    return conn.execute(queries.GET_MILESTONE)\n"
    )
    assert functions_that_write(module) == ["_apply", "sneaky"]
