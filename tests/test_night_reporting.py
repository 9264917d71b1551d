"""After each night: the Prefect artifacts (counts, sources needing attention, links), the officers' morning
e-mail (received by a real local SMTP server) and ``songmaytinh status`` — two nights through the CLI, the
second with a broken file and a school's new error. No child's name or phone number in any of them."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.nights import SmtpSink, config_copy, personal_values, tiny_district

USER, PASSWORD = "vanthu", "mat-khau-thu"


def _break_a_birth_date(folder: Path) -> str:
    """Write an impossible birth date (31/02) into the first child's row of one school list; returns its file."""
    import openpyxl

    for path in sorted(folder.glob("*.xlsx")):
        book = openpyxl.load_workbook(path)
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and re.fullmatch(r"ngày[\s,]*(tháng[\s,]*năm[\s,]*)?sinh",
                                                                    cell.value.strip(), re.I):
                        for below in range(cell.row + 1, sheet.max_row + 1):
                            target = sheet.cell(below, cell.column)
                            if target.value not in (None, ""):
                                target.value = "31/02/2013"
                                book.save(path)
                                return path.name
    raise AssertionError("no birth date column found")


# the tests share module fixtures (whole nights): one xdist worker runs them all, and the nights once
pytestmark = pytest.mark.xdist_group("reported-nights")


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    base = tmp_path_factory.mktemp("reporting")
    src = tiny_district(base / "src")
    smtp = SmtpSink(users={USER: PASSWORD}).start()
    mp = pytest.MonkeyPatch()
    mp.setenv("SONGMAYTINH_TEST_SMTP_USER", USER)
    mp.setenv("SONGMAYTINH_TEST_SMTP_PASSWORD", PASSWORD)
    try:
        conf = config_copy(base / "config", smtp=smtp)
        out = base / "out"
        runs = []
        for night, as_of in enumerate(["2022-03-15", "2022-03-16"]):
            if night == 1:
                (src / "truong" / "hong.xlsx").write_text("<html><body>Không tìm thấy trang</body></html>")
                broken = _break_a_birth_date(src / "truong")
            result = CliRunner().invoke(app, ["run", "--sources", str(src), "--config", str(conf), "--out", str(out),
                                              "--as-of", as_of])
            assert result.exit_code == 0, (result.output, result.exception)
            runs.append(Path((out / "latest").resolve()))
        yield {"out": out, "runs": runs, "mails": list(smtp.messages), "broken": broken, "conf": conf}
    finally:
        mp.undo()
        smtp.stop()
        shutil.rmtree(base, ignore_errors=True)


def _artifacts(out: Path) -> dict[str, list]:
    """The artifacts of each flow run that wrote to ``out``, by run id (the test process's Prefect server)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read():
        async with get_client() as client:
            found = {}
            for run in await client.read_flow_runs():
                if run.parameters.get("out_dir") != str(out):
                    continue
                found[run.id] = (run, await client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))))
            return found

    return asyncio.run(read())


def test_each_night_leaves_counts_sources_and_links_as_artifacts_without_personal_data(nights):
    found = _artifacts(nights["out"])
    assert len(found) == 2
    manifests = {p.name: json.loads((p / "manifest.json").read_text(encoding="utf-8")) for p in nights["runs"]}
    private = set().union(*(personal_values(p) for p in nights["runs"]))
    assert private
    for run, artifacts in found.values():
        assert run.state.is_completed(), run.state.message
        by_key = {a.key: a for a in artifacts}
        assert {"night-counts", "night-sources", "night-run-folder", "night-district-workbook"} <= set(by_key)
        run_id = re.search(r"Hoàn thành (\S+):", run.state.message).group(1)
        counts = manifests[run_id]["counts"]
        table = by_key["night-counts"].data
        table = json.loads(table) if isinstance(table, str) else table
        got = {row["Mã"]: row["Số lượng"] for row in table}
        assert got == {k: counts[k] for k in ["sources", "sources_stale", "sources_failed", "student_rows",
                                              "rows_rejected", "persons", "allocated", "waitlisted",
                                              "review_pairs", "changes"]}
        assert run_id in str(by_key["night-run-folder"].data)
        assert str(by_key["night-district-workbook"].data).endswith(".xlsx)") or ".xlsx" in str(
            by_key["night-district-workbook"].data)
        text = json.dumps([(a.key, a.data, a.description) for a in artifacts], ensure_ascii=False, default=str)
        assert not [v for v in private if v in text]
    second = found[max(found, key=lambda k: found[k][0].start_time)][1]
    sources_md = next(a for a in second if a.key == "night-sources").data
    assert "truong/hong.xlsx" in sources_md and "| lỗi |" in sources_md


def test_the_morning_message_has_the_counts_what_needs_attention_and_the_workbooks(nights):
    first, second = nights["mails"]
    for mail, run_dir in zip((first, second), nights["runs"]):
        assert mail.login == (USER, PASSWORD)  # credentials from the environment variables config names
        assert mail.envelope_to == ["phonggddt@huulung.example.vn"]
        assert mail.message.get_content_charset() == "utf-8"
        counts = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["counts"]
        assert f"- Dòng học sinh: {counts['student_rows']}" in mail.body
        assert f"- Học sinh (sau ghép trùng): {counts['persons']}" in mail.body
        assert f"- Được phân bổ: {counts['allocated']}" in mail.body
        assert f"- Thay đổi phân bổ so với lần trước: {counts['changes']}" in mail.body
        assert str(next((run_dir / "district").glob("*.xlsx"))) in mail.body
        assert run_dir.name in mail.body
        private = personal_values(run_dir)
        assert not [v for v in private if v in mail.body or v in mail.subject]
    assert first.subject.startswith("[Sóng và máy tính cho em] Tổng hợp Huyện Hữu Lũng ngày 15/03/2022: hoàn thành")
    assert "Đêm đầu tiên" in first.body
    assert second.subject == ("[Sóng và máy tính cho em] Tổng hợp Huyện Hữu Lũng ngày 16/03/2022: hoàn thành, "
                              "cần chú ý")
    attention = second.body.split("CẦN CHÚ Ý")[1].split("BẢNG TÍNH")[0]
    assert "- Nguồn lỗi: truong/hong.xlsx — " in attention
    assert "- Có lỗi mới: truong/hong.xlsx (1 lỗi)" in attention
    # the school whose list got a bad birth date is named (official name), with only its new error
    lines = [line for line in attention.splitlines() if line.startswith("- Có lỗi mới: Trường ")]
    assert len(lines) == 1 and lines[0].endswith("(1 lỗi)"), attention


def test_status_prints_the_last_nights_from_the_ledger(nights):
    result = CliRunner().invoke(app, ["status", "--out", str(nights["out"])])
    assert result.exit_code == 0, result.output
    first, second = (json.loads((p / "manifest.json").read_text(encoding="utf-8")) for p in nights["runs"])
    lines = result.output.splitlines()
    rows = {line.split()[0]: line for line in lines if re.match(r"\s*2022-03-1\d_", line)}
    assert list(rows) == [second["run_id"], first["run_id"]]  # newest first
    c1, c2 = first["counts"], second["counts"]
    assert re.search(rf"15/03/2022\s+\d+:\d\d\s+{c1['sources']} / 0 / 0\s+{c1['changes']}\s+ok",
                     rows[first["run_id"]])
    assert re.search(rf"16/03/2022\s+\d+:\d\d\s+{c2['sources'] - 1} / 0 / 1\s+{c2['changes']}\s+ok",
                     rows[second["run_id"]])
    one = CliRunner().invoke(app, ["status", "--out", str(nights["out"]), "--last", "1"])
    assert second["run_id"] in one.output and first["run_id"] not in one.output
