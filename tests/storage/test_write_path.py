"""Only the functions allowed here by name write the write path's tables (periods, milestones, history)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import milestones
from milestones.storage.write_path import WRITE_PATH

PACKAGE = Path(milestones.__file__).parent
# Each back end's `_apply` applies every declaration of the write path; pruning removes old history and events,
# a batch per transaction. Erasure is a change like any other, applied by `_apply`.
ALLOWED = {
    ("storage/postgres.py", "_apply"),
    ("storage/sqlite.py", "_apply"),
    # Each names its pruning statement, which one shared function per back end runs a batch at a time.
    ("storage/postgres.py", "prune_history"),
    ("storage/postgres.py", "prune_events"),
    ("storage/sqlite.py", "prune_history"),
    ("storage/sqlite.py", "prune_events"),
}
# The tables changes write. Erasure also reaches tables with writers of their own (idempotency records, which
# a request claims and finishes around its change); those are not the write path's to guard.
WRITTEN = [write for write in WRITE_PATH if write.how != "erase"]
TABLES = "|".join(sorted({write.table for write in WRITTEN}))
# Names that write: the declarations themselves, their statements, PostgreSQL's COPY, and any statement
# constant that writes one of the tables (under any alias).
STEMS = "|".join(sorted({write.table.removesuffix("s").upper() for write in WRITTEN}))
WRITING_NAMES = re.compile(
    rf"^(copy_records_to_table|copy_to_table)$|^(INSERT|UPSERT|DELETE|MERGE|PRUNE|UPDATE)\w*_({STEMS})"
)
# Running the write path's declarations: naming them and executing statements in one function.
EXECUTES = frozenset({"execute", "executemany"})
# Or SQL written in place.
WRITING_SQL = re.compile(rf"(INSERT\s+INTO|DELETE\s+FROM|UPDATE|COPY)\s+({TABLES})\b", re.IGNORECASE)


def _writes(node: ast.AST) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    if name is not None and WRITING_NAMES.search(name.lstrip("_")):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(WRITING_SQL.search(node.value))


def _names(node: ast.AST) -> set[str]:
    return {
        n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node) if isinstance(n, ast.Name | ast.Attribute)
    }


def functions_that_write(path: Path) -> list[str]:
    """The functions of a module that write a write-path table (module-level aliases are not functions)."""
    tree = ast.parse(path.read_text())
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (any(_writes(n) for n in ast.walk(node)) or ("WRITE_PATH" in _names(node) and _names(node) & EXECUTES))
    ]


def test_only_the_allowed_functions_write_the_write_path_tables() -> None:
    writers = {
        (str(path.relative_to(PACKAGE)), function)
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
        for function in functions_that_write(path)
    }
    assert writers == ALLOWED


def test_the_write_path_declares_erasure_then_history() -> None:
    assert [(write.how, write.table) for write in WRITE_PATH] == [
        ("erase", "periods"),
        ("erase", "milestones"),
        ("erase", "history"),
        ("erase", "events"),
        ("erase", "idempotency_keys"),
        ("erase", "mentors"),
        ("erase", "webhook_deliveries"),
        ("erase", "credential_status"),
        ("delete", "periods"),
        ("delete", "milestones"),
        ("upsert", "periods"),
        ("upsert", "periods"),
        ("upsert", "milestones"),
        ("upsert", "milestones"),
        ("upsert", "milestones"),
        ("upsert", "mentors"),
        ("append", "history"),
        ("append", "events"),
        ("add", "mentor_counts"),
    ]


def test_the_check_sees_a_second_writer(tmp_path: Path) -> None:
    """The check above would fail if another function wrote rows itself."""
    module = tmp_path / "writer.py"
    module.write_text(
        "def _apply(conn, change):\n    for write in WRITE_PATH:\n        conn.executemany(write.statement, [])\n"
        "async def sneaky(conn):\n    await conn.copy_records_to_table('milestones', records=[])\n"
        "def inline(conn):\n    conn.execute('DELETE FROM history WHERE at < ?')\n"
        "def aliased(conn):\n    conn.execute(queries.PRUNE_HISTORY)\n"
        "def reader(conn):\n    return conn.execute(queries.GET_MILESTONE)\n"
        "def rows_only(change):\n    return [write.rows(change) for write in WRITE_PATH]\n"
    )
    assert functions_that_write(module) == ["_apply", "sneaky", "inline", "aliased"]
