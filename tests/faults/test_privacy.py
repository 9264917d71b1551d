"""No child's name, birth date or phone number leaves the night except in its workbooks and data exports.

Two nights of a small district (with hostile workbooks among the schools' files) run through the CLI and the
Prefect flow: one that completes, and one whose allocate stage fails with an exception quoting a child's name,
birth date and phone (as a bug's message might). Then every place a person or a program reads about the night
is scanned for any name, birth date or phone of the district: Python logging at INFO (every logger), the CLI's
output, the Prefect flow-run and task-run logs, states and artifacts, and the run folder's text files other than
the data exports (``exports/*.csv``, which carry the children by contract) and the workbooks. Found: 0.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.faults.test_hostile_workbooks import hostile_workbooks

pytestmark = pytest.mark.xdist_group("fault-nights")  # the two tests share the nights (a module fixture)
TEXT_SUFFIXES = {".json", ".txt", ".md", ".log", ".html", ".csv", ".yaml", ".yml"}


def personal_data(students: pd.DataFrame) -> set[str]:
    """Names (two words or more), phone numbers and birth dates (ISO and dd/mm/yyyy) of every row, folded."""
    found: set[str] = set()
    for column in ("full_name", "guardian_name"):
        found |= {v.casefold() for v in students.get(column, []) if len(v.split()) >= 2}
    found |= {v for v in students.get("phone", []) if len(v) >= 9}
    for value in students.get("date_of_birth", []):
        if value:
            day = dt.date.fromisoformat(value)
            found |= {value, f"{day:%d/%m/%Y}", f"{day.day}/{day.month}/{day.year}"}
    return found


def _prefect_texts(out: Path) -> list[str]:
    """Logs, states and artifacts of every flow run (and its task runs) that wrote to ``out``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter,
                                                FlowRunFilterId, LogFilter, LogFilterFlowRunId)
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)  # the flows' logs reach the server in batches

    async def read() -> list[str]:
        texts: list[str] = []
        async with get_client() as client:
            runs = [r for r in await client.read_flow_runs() if r.parameters.get("out_dir") == str(out)]
            ids = [r.id for r in runs]
            for run in runs:
                texts.append(f"{run.state.name}: {run.state.message}")
            for log in await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids))):
                texts.append(log.message)
            for artifact in await client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))):
                texts.append(f"{artifact.key} {artifact.description} {artifact.data}")
            for task in await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))):
                texts.append(f"{task.name} {task.state.name}: {task.state.message}")
        assert runs, "no flow run found"
        return texts

    return asyncio.run(read())


def _run_folder_texts(run_dir: Path) -> list[str]:
    """The run folder's text files, but the data exports (which carry children by contract) and workbooks."""
    return [p.read_text(encoding="utf-8", errors="replace") for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES and "exports" not in p.relative_to(run_dir).parts]


@pytest.fixture(scope="session")  # not module: xdist may run another module's test between the two
def nights(tmp_path_factory, district):
    base = tmp_path_factory.mktemp("privacy")
    sources = base / "sources"
    shutil.copytree(district[0], sources)  # its own copy: hostile workbooks join its schools
    hostile = hostile_workbooks(sources / "truong", base / "scratch")
    out = base / "out"
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    # Prefect's logging setup stops "flows" and "prefect" records at their own handlers: listen on each
    loggers = [logging.getLogger(name) for name in ("", "flows", "validations", "prefect")]
    handler, levels = Keep(logging.INFO), [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    mp = pytest.MonkeyPatch()
    try:
        args = ["run", "--sources", str(sources), "--out", str(out), "--as-of", "2022-03-01"]
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, (first.output, first.exception)
        run_dir = (out / "latest").resolve()
        students = pd.read_csv(run_dir / "exports" / "students.csv", dtype=str, keep_default_na=False)
        child = students[(students["phone"] != "") & (students["date_of_birth"] != "")].iloc[0]

        quoted = f"cannot allocate {child['full_name']} ({child['date_of_birth']}, {child['phone']})"

        def a_bug_quoting_a_child(*args, **kwargs):
            raise ValueError(quoted)

        mp.setattr("flows.pipeline.allocate_supports", a_bug_quoting_a_child)
        second = CliRunner().invoke(app, args)
        assert second.exit_code == 1, (second.output, second.exception)
    finally:
        mp.undo()
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(r) for r in {id(r): r for r in records}.values()]
    return {"out": out, "run_dir": run_dir, "students": students, "hostile": hostile, "logged": logged,
            "cli": [first.output, second.output],
            "quoted": quoted}


def test_no_name_birth_date_or_phone_in_any_log_state_artifact_or_report(nights, tally):
    tally.injected()  # the failing night: a bug whose message quotes a child
    needles = personal_data(nights["students"])
    assert len(needles) > 30
    assert sum(n in nights["quoted"].casefold() for n in needles) >= 3  # the scan sees name, birth date, phone
    sources = {"python logging": nights["logged"], "CLI output": nights["cli"],
               "Prefect": _prefect_texts(nights["out"]), "run folder": _run_folder_texts(nights["run_dir"])}
    assert all(sources.values()), {k: len(v) for k, v in sources.items()}
    assert any("allocate" in t for t in sources["Prefect"]), "the failure is told (by stage, not by message)"
    found = sorted({(where, needle) for where, texts in sources.items() for text in texts
                    for needle in needles if needle in text.casefold()})
    tally.personal_data(len(found))
    assert found == []
    # the night the bug stopped published nothing: latest is still the first night
    assert (nights["out"] / "latest").resolve() == nights["run_dir"]
    tally.survived()


def test_the_hostile_workbooks_were_reported_and_the_rest_of_the_night_published(nights, tally):
    tally.hostile_tried(len(nights["hostile"]))
    issues = pd.read_csv(nights["run_dir"] / "exports" / "issues.csv", dtype=str, keep_default_na=False)
    unreadable = issues[issues["rule"] == "unreadable_file"]
    for name, words in nights["hostile"].items():
        (message,) = unreadable.loc[unreadable["source_file"] == f"truong/{name}", "message"]
        assert words in message
        tally.hostile_reported()
    assert len(nights["students"]) > 10 and set(nights["students"]["status"]) >= {"allocated"}
