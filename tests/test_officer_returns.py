"""The product's own workbooks found among the sources, decisions that match no pair, and read-only replays.

Nights on the bundled sample (small scale): night 1 publishes; night 2 is fed copies of its district, commune
and school workbooks (as published, and one re-saved without its document properties) at the top of the sources
folder and must allocate exactly as night 1; night 3 reads an officer's decisions from a returned copy and an
unmatched key from ``quyet-dinh/``; then night 3 is replayed after the files changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.adapters.files import read_local
from flows.adapters.ledger import Ledger
from flows.adapters.ledger.replay import UnknownRun
from flows.cli import app
from flows.frames import SourceData
from flows.intake.returned import published_marker, set_aside_returned
from flows.pipeline import run_night
from flows.stages import extract_tables
from samples.generate import generate

KEY = ["person_id", "need"]


def _allocations(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(run_dir / "exports" / "allocations.csv", dtype=str, keep_default_na=False)
    return frame.sort_values(KEY).reset_index(drop=True)


def _strip_properties(path: Path, target: Path, decide: tuple[str, ...] = (), exclude: bool = False) -> list[dict]:
    """A copy re-saved through openpyxl with its custom document properties dropped (as some tools do); with
    ``decide``, the officer's words written in the decision cells of the first pairs of "Cần xem xét", with who
    decided and when in two columns the officer adds (the pairs decided are returned: key, ids, row); with
    ``exclude``, an override column on "Danh sách phân bổ" excluding its first child (returned as ``excluded``)."""
    wb = openpyxl.load_workbook(path)
    for name in list(wb.custom_doc_props.names):
        del wb.custom_doc_props[name]
    pairs = []
    if exclude:
        ws = wb["Danh sách phân bổ"]
        header = [c.value for c in ws[7]]
        for offset, (title, value) in enumerate((("Điều chỉnh", "Loại khỏi danh sách"), ("Cán bộ", "Lan"),
                                                 ("Lý do", "Gia đình đã tự mua máy"))):
            ws.cell(row=7, column=len(header) + 1 + offset, value=title)
            ws.cell(row=8, column=len(header) + 1 + offset, value=value)
        pairs.append({"excluded": ws.cell(row=8, column=header.index("Mã HS") + 1).value})
    if decide:
        ws = wb["Cần xem xét"]
        header = [c.value for c in ws[7]]
        ws.cell(row=7, column=len(header) + 1, value="Cán bộ xem xét")
        ws.cell(row=7, column=len(header) + 2, value="Ngày kết luận")
        for row, word in enumerate(decide, 8):
            ws.cell(row=row, column=header.index("Quyết định (cùng/khác)") + 1, value=word)
            ws.cell(row=row, column=len(header) + 1, value="Lan")
            ws.cell(row=row, column=len(header) + 2, value="16/03/2022")
            cell = lambda h: ws.cell(row=row, column=header.index(h) + 1).value  # noqa: E731
            pairs.append({"key": cell("Mã cặp"), "ids": (cell("Mã HS (1)"), cell("Mã HS (2)")), "row": row})
    wb.save(target)
    return pairs


# the tests share module fixtures (whole nights): one xdist worker runs them all, and the nights once
pytestmark = pytest.mark.xdist_group("officer-returns")


@pytest.fixture(scope="module")
def nights(tmp_path_factory, cfg):
    base = tmp_path_factory.mktemp("returned")
    src, out = base / "src", base / "out"
    generate(src, seed=7, scale=0.05)
    url = f"sqlite:///{base / 'ledger.sqlite'}"
    first, run1 = run_night(src, cfg, out, dt.date(2022, 3, 15), ledger_url=url)
    district = next((run1 / "district").glob("*.xlsx"))
    copies = [district, sorted((run1 / "communes").glob("*.xlsx"))[0], sorted((run1 / "schools").glob("*.xlsx"))[0]]
    for path in copies:
        shutil.copy(path, src / path.name)
    _strip_properties(district, src / "ban sao tong hop.xlsx")
    second, run2 = run_night(src, cfg, out, dt.date(2022, 3, 16), ledger_url=url)
    return {"base": base, "src": src, "out": out, "url": url, "first": first, "run1": run1, "second": second,
            "run2": run2, "copies": [p.name for p in copies] + ["ban sao tong hop.xlsx"], "district": district}


def test_published_workbooks_carry_a_marker_and_a_copy_without_it_is_known_by_its_sheets(nights, cfg):
    run1 = nights["run1"]
    assert published_marker(nights["district"]) == "district"
    assert published_marker(sorted((run1 / "communes").glob("*.xlsx"))[0]) == "commune"
    assert published_marker(sorted((run1 / "schools").glob("*.xlsx"))[0]) == "school"
    stripped = nights["src"] / "ban sao tong hop.xlsx"
    assert published_marker(stripped) == ""  # only the shape of its sheets is left to recognise it
    # none of the sample's own lists, donations or officer sheets is taken for a published workbook
    pristine = nights["base"] / "pristine"
    generate(pristine, seed=7, scale=0.05)
    sources = read_local(pristine, cfg)
    assert len(sources) > 50
    assert [s.source_id for s in set_aside_returned(sources, cfg) if s.kind == "returned"] == []
    # "Cần xem xét" returned alone, in a workbook of its own that kept no property
    wb = openpyxl.load_workbook(nights["district"])
    for name in wb.sheetnames:
        if name != "Cần xem xét":
            del wb[name]
    for name in list(wb.custom_doc_props.names):
        del wb.custom_doc_props[name]
    (pristine / "quyet-dinh").mkdir()
    wb.save(pristine / "quyet-dinh" / "can xem xet.xlsx")
    alone = [s for s in read_local(pristine, cfg) if s.source_id == "quyet-dinh/can xem xet.xlsx"]
    assert [s.kind for s in set_aside_returned(alone, cfg)] == ["returned"]


def test_a_night_fed_its_own_workbooks_allocates_as_the_night_before(nights):
    first, second = nights["first"], nights["second"]
    pd.testing.assert_frame_equal(_allocations(nights["run1"]), _allocations(nights["run2"]))
    assert second.counts["changes"] == 0
    assert second.counts["student_rows"] == first.counts["student_rows"]
    assert len(second.donations) == len(first.donations)
    assert not second.students["source_file"].isin(nights["copies"]).any()
    assert not second.issues["source_file"].isin(nights["copies"]).any()  # nothing read from them as a list
    manifest = json.loads((nights["run2"] / "manifest.json").read_text(encoding="utf-8"))
    said = {s["source"]: s for s in manifest["sources"]}
    for name in nights["copies"]:
        assert said[name]["kind"] == "returned" and said[name]["rows"] == 0
        assert "do chương trình xuất" in said[name]["message"]


def test_a_returned_copy_gives_its_decisions_and_overrides_only(nights, cfg):
    wb = openpyxl.load_workbook(nights["district"])
    ws = wb["Danh sách phân bổ"]
    header = [c.value for c in ws[7]]
    action, reason = len(header) + 1, len(header) + 2
    ws.cell(row=7, column=action, value="Điều chỉnh")
    ws.cell(row=7, column=reason, value="Lý do")
    ws.cell(row=8, column=action, value="Loại khỏi danh sách")
    ws.cell(row=8, column=reason, value="Gia đình đã tự mua máy")
    target = nights["base"] / "returned-override.xlsx"
    wb.save(target)
    from flows.adapters.files import read_grids

    source = SourceData(source_id="tra-lai.xlsx", source_file="tra-lai.xlsx", sheets=read_grids(target))
    sources = set_aside_returned([source], cfg, {"tra-lai.xlsx": published_marker(target)})
    assert [(s.source_id, s.kind) for s in sources] == [("tra-lai.xlsx", "returned"),
                                                         ("tra-lai.xlsx#dieu-chinh", "overrides")]
    extraction = extract_tables(sources, cfg)
    assert set(extraction.tables) == {"overrides"}  # no students, donations or coverage
    overrides = extraction.tables["overrides"]
    assert overrides["source_row"].tolist() == [8] and overrides["source_file"].tolist() == ["tra-lai.xlsx"]
    assert overrides["action"].tolist() == ["Loại khỏi danh sách"]
    assert overrides["person_id"].tolist() == [ws.cell(row=8, column=header.index("Mã HS") + 1).value]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_a_copy_saved_again_by_libreoffice_is_recognised(nights, cfg, tmp_path):
    shutil.copy(nights["district"], tmp_path / "tong-hop.xlsx")
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--convert-to",
                    "ods", "--outdir", str(tmp_path / "ods"), str(tmp_path / "tong-hop.xlsx")],
                   check=True, capture_output=True, timeout=300)
    (tmp_path / "src").mkdir()
    shutil.copy(tmp_path / "ods" / "tong-hop.ods", tmp_path / "src" / "tong-hop.ods")
    sources = read_local(tmp_path / "src", cfg)
    assert [s.kind for s in set_aside_returned(sources, cfg)] == ["returned"]


@pytest.fixture(scope="module")
def decided(nights, cfg):
    """Night 3: an officer's "Khác" and "Cùng" on the first two pairs of a returned copy (properties lost) and an
    override excluding a child in it, and a well-formed key that matches no pair in ``quyet-dinh/``."""
    src = nights["src"]
    for name in nights["copies"]:
        (src / name).unlink()
    pairs = _strip_properties(nights["district"], src / "tra lai quyet dinh.xlsx", decide=("Khác", "Cùng"),
                              exclude=True)
    (src / "quyet-dinh").mkdir(exist_ok=True)
    (src / "quyet-dinh" / "ket-luan.csv").write_text(
        "Mã cặp,Quyết định (cùng/khác),Cán bộ xem xét\n"
        "0123456789abcdef-fedcba9876543210,Cùng,Lan\n", encoding="utf-8")
    third, run3 = run_night(src, cfg, nights["out"], dt.date(2022, 3, 17), ledger_url=nights["url"])
    return {"third": third, "run3": run3, "excluded": pairs[0]["excluded"], "split": pairs[1], "merge": pairs[2]}


def test_decisions_from_a_returned_copy_and_an_unmatched_key_is_a_warning(nights, decided):
    third = decided["third"]
    with Ledger(nights["url"]) as ledger:
        stored = ledger.decisions()
    for pair, decision in ((decided["split"], "different"), (decided["merge"], "same")):
        key = tuple(pair["key"].split("-"))
        assert pair["key"] in set(nights["first"].review_pairs["pair_key"])
        mine = stored[(stored["fingerprint_a"] == key[0]) & (stored["fingerprint_b"] == key[1])]
        assert mine[["decision", "decided_by", "source"]].values.tolist() == [
            [decision, "Lan", f"tra lai quyet dinh.xlsx:Cần xem xét:{pair['row']}"]]
    assert ("0123456789abcdef", "fedcba9876543210") in set(zip(stored["fingerprint_a"], stored["fingerprint_b"]))
    warned = third.issues[third.issues["rule"] == "unmatched_decision"]
    assert warned[["source_file", "source_sheet", "source_row", "column", "severity"]].values.tolist() == [
        ["quyet-dinh/ket-luan.csv", "", 2, "Mã cặp", "warning"]]
    assert "0123456789abcdef-fedcba9876543210" in warned["message"].iloc[0]
    shown = third.review_pairs["pair_key"]
    assert not shown.duplicated().any()


def test_a_replay_reads_what_that_night_read_and_writes_nothing(nights, decided, cfg):
    src, out, run3 = nights["src"], nights["out"], decided["run3"]
    # after the night: the returned copy is taken away, a school list is emptied, a new file appears
    (src / "tra lai quyet dinh.xlsx").unlink()
    school = sorted((src / "truong").rglob("*.xlsx"))[0]
    school.write_bytes(b"not a workbook any more")
    (src / "moi.csv").write_text("Họ và tên,Ngày sinh\nNguyễn Văn Mới,01/01/2014\n", encoding="utf-8")
    ledger_file = nights["base"] / "ledger.sqlite"
    before = hashlib.sha256(ledger_file.read_bytes()).hexdigest()
    latest = (out / "latest").resolve()
    replay, folder = run_night(src, cfg, out, None, ledger_url=nights["url"], replay_run=run3.name)
    assert folder.parent == out / "replays" and folder.name.startswith(f"replay-{run3.name}")
    assert replay.as_of == dt.date(2022, 3, 17)  # the replayed night's day
    assert hashlib.sha256(ledger_file.read_bytes()).hexdigest() == before
    assert (out / "latest").resolve() == latest
    with Ledger(nights["url"]) as ledger:
        assert not ledger.runs()["run_id"].str.startswith("replay-").any()
    for name in ("students.csv", "allocations.csv", "issues.csv"):
        assert (folder / "exports" / name).read_bytes() == (run3 / "exports" / name).read_bytes(), name
    assert "moi.csv" not in {s.source for s in replay.sources}


def test_an_unknown_run_id_is_an_error(nights, cfg):
    with Ledger(nights["url"]) as ledger:
        runs = len(ledger.runs())
    with pytest.raises(UnknownRun, match="NO-SUCH-RUN"):
        run_night(nights["src"], cfg, nights["out"], None, ledger_url=nights["url"], replay_run="NO-SUCH-RUN")
    result = CliRunner().invoke(app, ["run", "--sources", str(nights["src"]), "--out", str(nights["out"]),
                                      "--ledger", nights["url"], "--replay-run", "NO-SUCH-RUN"])
    assert result.exit_code == 2, result.output
    assert "NO-SUCH-RUN" in result.output and "không có lần tổng hợp" in result.output
    with Ledger(nights["url"]) as ledger:
        assert len(ledger.runs()) == runs  # no night was run


# --- explain tells the whole story -----------------------------------------------------------------------------
def test_explain_resolves_a_merged_id_and_shows_the_officer_decisions(nights, decided):
    from flows.publishing.explain import explain_student

    run3, merge, split = decided["run3"], decided["merge"], decided["split"]
    with Ledger(nights["url"]) as ledger:
        merged = ledger.merged_ids()
        alias = merged[merged["alias_id"].isin(merge["ids"])]
        assert len(alias) == 1  # the officer's "Cùng" merged the two ids: the younger is an alias
        gone, survivor = alias["alias_id"].iloc[0], alias["person_id"].iloc[0]
        text = explain_student(gone, run3, ledger=ledger)
        assert f"Mã {gone} đã được gộp vào mã {survivor}" in text
        assert f"— mã {survivor} —" in text
        assert "Kết luận của cán bộ (Lan, ngày 16/03/2022)" in text and f"gộp thành mã {survivor}" in text
        assert f"ghi tại tra lai quyet dinh.xlsx:Cần xem xét:{merge['row']}" in text
        apart = explain_student(split["ids"][0], run3, ledger=ledger)
        assert "là hai em khác nhau: tách, không gộp" in apart and f"(mã {split['ids'][1]})" in apart
        assert "Kết luận của cán bộ (Lan, ngày 16/03/2022)" in apart
    # without the ledger the run's folder alone does not know the merged id
    assert "Không tìm thấy" in explain_student(gone, run3)
    result = CliRunner().invoke(app, ["explain", gone, "--out", str(nights["out"]), "--ledger", nights["url"]])
    assert result.exit_code == 0 and f"đã được gộp vào mã {survivor}" in result.output


def test_explain_shows_the_category_that_ranked_the_child_and_the_rows_that_disagreed(nights, decided):
    from flows.publishing.explain import explain_student
    from flows.publishing.workbook import label

    run3 = decided["run3"]
    students = pd.read_csv(run3 / "exports" / "students.csv", dtype=str, keep_default_na=False)
    ranked = dict(zip(*pd.read_csv(run3 / "exports" / "allocations.csv", dtype=str,
                                   keep_default_na=False)[["person_id", "category"]].values.T))
    usable = students[~students["status"].isin(["rejected", "duplicate"]) & (students["person_id"] != "")]
    split = [pid for pid, rows in usable.groupby("person_id") if rows["category"].nunique() > 1 and pid in ranked]
    assert len(split) >= 3
    for pid in split:
        rows = usable[usable["person_id"] == pid]
        text = explain_student(pid, run3)
        assert f"Đối tượng: {label('category', ranked[pid])}" in text
        assert "Các dòng khai đối tượng khác nhau; quy tắc chọn: " in text
        for r in rows[rows["category"] != ranked[pid]].itertuples():
            assert f"dòng {r.source_row}: {label('category', r.category)}" in text


def test_an_override_written_in_a_returned_copy_is_applied(nights, decided):
    third, pid = decided["third"], decided["excluded"]
    log = third.override_log
    mine = log[log["person_id"] == pid]
    assert mine[["action", "officer", "reason", "result"]].values.tolist() == [
        ["exclude", "Lan", "Gia đình đã tự mua máy", "applied"]]
    status = third.students.loc[third.students["person_id"] == pid, "status"]
    assert set(status) == {"excluded"}
    with Ledger(nights["url"]) as ledger:
        stored = ledger.overrides()
    assert (stored["person_id"] == pid).sum() == 1
    cited = third.issues[third.issues["source_file"] == "tra lai quyet dinh.xlsx"]
    assert cited.empty, cited[["source_sheet", "source_row", "column", "rule"]].values.tolist()
