"""Command line: ``songmaytinh run | serve | status | provision | validate | dedupe | explain | bench |
province run``."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Sóng và máy tính cho em — nightly consolidation of school and commune sheets.")
console = Console(stderr=False, highlight=False, soft_wrap=True)



def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "prefect", "httpx", "alembic", "splink", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def _config(config: Optional[Path]):
    from flows.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        console.print(f"[red]Cấu hình không hợp lệ (invalid configuration):[/red] {exc}")
        raise typer.Exit(2) from None



def _check_as_of(as_of: str | None) -> None:
    """``--as-of`` must be a date (YYYY-MM-DD): exit 2 with a message otherwise."""
    if as_of:
        try:
            dt.date.fromisoformat(as_of)
        except ValueError:
            console.print(f"[red]--as-of {as_of!r}: expected a date YYYY-MM-DD[/red]")
            raise typer.Exit(2) from None

@app.command()
def run(
    sources: Optional[Path] = typer.Option(None, "--sources", help="Folder of source spreadsheets."),
    config: Optional[Path] = typer.Option(None, "--config", help="Config folder or one of its YAML files."),
    out: Path = typer.Option(Path("outputs"), "--out", help="Where run folders and `latest` are written."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Replay as of this date (YYYY-MM-DD)."),
    ledger: Optional[str] = typer.Option(None, "--ledger", help="Ledger database URL (default: OUT/ledger.sqlite)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each stage (counts and ids only)."),
    offline: bool = typer.Option(False, "--offline",
                                 help="Google Sheets from the stored snapshots only (no network)."),
    replay_run: Optional[str] = typer.Option(None, "--replay-run",
                                             help="Google Sheets as a past run read them (its snapshots)."),
    wait: Optional[float] = typer.Option(None, "--wait", min=0,
                                         help="Seconds to wait for another night on the same ledger or output "
                                              "folder (default: night.lock_wait_seconds in district.yaml)."),
    full: bool = typer.Option(False, "--full",
                              help="Rebuild everything: take nothing kept from earlier nights (OUT/.reuse)."),
) -> None:
    """Run the nightly consolidation once and publish the workbooks."""
    _setup_logging(verbose)
    cfg = _config(config)
    _check_as_of(as_of)
    if sources is None and cfg.sources.local.default_dir:
        sources = cfg.config_dir.parent / cfg.sources.local.default_dir
    if sources is not None and not sources.is_dir():
        console.print(f"[red]--sources {sources}: folder not found[/red]")
        raise typer.Exit(2)
    if replay_run:
        _check_replay(replay_run, ledger, out)
    from flows import nightly
    from flows.adapters.night_lock import NightLocked
    from flows.ephemeral_server import start_for_this_process
    from flows.failures import StageFailure

    started = time.monotonic()
    start_for_this_process()  # the temporary Prefect server, if any, dies with this process (even on SIGKILL)
    with console.status("Đang chạy tổng hợp...", spinner="dots") as status:
        def progress(stage: str) -> None:
            console.print(f"  [dim]{time.monotonic() - started:6.1f}s[/dim] {stage}")
            status.update(f"{stage}...")

        nightly.PROGRESS["callback"] = progress
        try:
            outcome = nightly.nightly_consolidation(
                sources_dir=str(sources) if sources else None, config_dir=str(cfg.config_dir), out_dir=str(out),
                as_of=as_of, ledger_url=ledger, offline=offline, replay_run=replay_run, lock_wait=wait, full=full)
        except NightLocked as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(3) from None
        except StageFailure as exc:
            console.print(f"[red]Không hoàn thành (failed):[/red] {exc}")
            raise typer.Exit(1) from None
        finally:
            nightly.PROGRESS["callback"] = nightly._quiet
    _print_summary(outcome, out, time.monotonic() - started)


def _check_replay(replay_run: str, ledger: Optional[str], out: Path) -> None:
    """An unknown ``--replay-run`` id stops here, before any night starts (exit 2)."""
    from flows.adapters.ledger.replay import UnknownRun, replayed_day
    from flows.pipeline import REPLAY_FOLDER, default_ledger_url

    try:
        replayed_day(ledger or default_ledger_url(out), replay_run)
    except UnknownRun as exc:
        console.print(f"[red]--replay-run {replay_run}: {exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Chạy lại lần tổng hợp {replay_run} (replay): chỉ đọc sổ cái, không đổi {out / 'latest'}; "
                  f"kết quả ở {out / REPLAY_FOLDER}")


def _print_summary(outcome: dict, out: Path, seconds: float) -> None:
    from flows.publishing.night_report import COUNT_LABELS

    counts = outcome["counts"]
    table = Table(title=f"Kết quả tổng hợp — {outcome['run_id']}", show_header=True)
    table.add_column("Chỉ tiêu")
    table.add_column("Số lượng", justify="right")
    for key, label in COUNT_LABELS:
        if key in counts:
            table.add_row(label, f"{counts[key]:,}".replace(",", "."))
    console.print(table)
    failed = [s for s in outcome["sources"] if s["status"] != "ok"]
    for s in failed:
        note = f" — {s['message']}" if s.get("message") else ""
        console.print(f"  [yellow]Nguồn {s['status']}:[/yellow] {s['source']}{note}")
    run_dir = Path(outcome["run_dir"])
    district = sorted((run_dir / "district").glob("*.xlsx"))
    console.print(f"Thư mục kết quả (run folder): {run_dir}")
    if run_dir.parent == out:
        console.print(f"Mới nhất (latest): {out / 'latest'}")
    for wb in district:
        console.print(f"Bảng tổng hợp của huyện (district workbook): [bold]{wb}[/bold]")
    console.print(f"Xã: {run_dir / 'communes'}  ·  Trường: {run_dir / 'schools'}  ·  CSV: {run_dir / 'exports'}")
    console.print(f"Xong trong {seconds:.0f} giây.")


@app.command()
def serve(
    sources: Optional[Path] = typer.Option(None, "--sources"),
    config: Optional[Path] = typer.Option(None, "--config"),
    out: Path = typer.Option(Path("outputs"), "--out"),
    cron: str = typer.Option("0 1 * * *", "--cron", help="Schedule (cron, Asia/Ho_Chi_Minh)."),
) -> None:
    """Serve the flow on its nightly schedule (needs a Prefect server; see README)."""
    _setup_logging(True)
    cfg = _config(config)
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        console.print("[yellow]PREFECT_API_URL is not set: schedules need a Prefect server. Start one with "
                      "`uv run prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api "
                      "(see README, Scheduling).[/yellow]")
    from flows.nightly import nightly_consolidation

    nightly_consolidation.serve(
        name="nightly-consolidation",
        cron=cron,
        parameters={"sources_dir": str(sources) if sources else None, "config_dir": str(cfg.config_dir),
                    "out_dir": str(out)},
    )


@app.command()
def provision(
    config: Optional[Path] = typer.Option(None, "--config", help="Config folder or one of its YAML files."),
) -> None:
    """Create or update one template Google Sheet per school and commune, share them, write the registry."""
    _setup_logging(False)
    cfg = _config(config)
    from flows.adapters.google.sheets import GoogleUnavailable
    from flows.adapters.google.provision import provision as run_provision

    try:
        with console.status("Đang tạo bảng tính mẫu...", spinner="dots") as status:
            result = run_provision(cfg, progress=lambda name: status.update(f"{name}..."))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red] (README, Google Sheets)")
        raise typer.Exit(2) from None
    except GoogleUnavailable as exc:
        console.print(f"[red]Google: HTTP {exc.status} {exc.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Tạo mới {len(result.created)}, cập nhật {len(result.updated)}, lỗi {len(result.failed)}; "
                  f"thêm {result.shared} quyền chia sẻ.")
    for code, reason in result.failed.items():
        console.print(f"  [yellow]{code}: {reason}[/yellow]")
    written = "đã cập nhật" if result.registry_written else "không thay đổi"
    console.print(f"Sổ đăng ký nguồn (registry) {written}: {result.registry_key}")
    if cfg.sources.google.registry != result.registry_key:
        console.print(f"Ghi vào config/sources.yaml: google.registry: {result.registry_key}")
    raise typer.Exit(1 if result.failed else 0)


@app.command()
def validate(
    file: Path = typer.Argument(..., help="One spreadsheet (xlsx, xls, ods, csv)."),
    config: Optional[Path] = typer.Option(None, "--config"),
    as_of: Optional[str] = typer.Option(None, "--as-of"),
    feedback: Optional[Path] = typer.Option(None, "--feedback",
                                            help="Also write the feedback workbook (.xlsx): issues and the rows "
                                                 "as sent with the problem cells coloured."),
) -> None:
    """Check one file the way the night would, and print its issues."""
    _setup_logging(False)
    cfg = _config(config)
    if not file.is_file():
        console.print(f"[red]{file}: file not found[/red]")
        raise typer.Exit(2)
    from flows.rules.checkfile import check_file

    day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    report = check_file(file, cfg, day)
    console.print(f"[bold]{file.name}[/bold]")
    if report.sheets:
        console.print("Trang tính: " + "; ".join(f"[bold]{name}[/bold]: {found}" for name, found in report.sheets))
    units = report.students.drop_duplicates("unit_code") if len(report.students) else report.students
    named = [(cfg.district.school_by_code.get(u) or cfg.district.commune_by_code.get(u)) for u in units.get(
        "unit_code", [])]
    if named:
        console.print("Đơn vị gửi: " + (", ".join(n.name for n in named if n) or "[red]chưa xác định[/red]"))
    if report.issues:
        table = Table(title=f"{len(report.issues)} vấn đề cần xem", show_lines=False)
        for col in ("Trang tính", "Dòng", "Cột", "Mức độ", "Nội dung"):
            table.add_column(col, overflow="fold")
        for i in report.issues:
            sev = "[red]Lỗi[/red]" if i.severity == "error" else "[yellow]Cảnh báo[/yellow]"
            table.add_row(i.source_sheet, "" if i.source_row is None else str(i.source_row), i.column, sev, i.message)
        console.print(table)
    else:
        console.print("[green]Không có vấn đề nào.[/green]")
    errors = sum(i.severity == "error" for i in report.issues)
    console.print(f"{report.rows} dòng học sinh; {errors} lỗi, {len(report.issues) - errors} cảnh báo.")
    if feedback is not None:
        from flows.rules.checkfile import write_feedback

        write_feedback(report, feedback, file.name)
        console.print(f"Đã ghi tệp phản hồi: {feedback}")
    raise typer.Exit(1 if errors else 0)


@app.command()
def dedupe(
    input: Path = typer.Argument(..., help="UTF-8 CSV with record_id, full_name, ..."),
    output: Path = typer.Option(..., "--output", "-o"),
) -> None:
    """Cluster the records of a CSV into persons (stateless; no ledger)."""
    from rich.console import Console as _Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.linkage.contract import dedupe_csv

    steps = {1: "so sánh đặc trưng", 2: "chấm điểm các cặp (Splink)", 3: "gom cụm", 4: "xong"}
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=_Console(stderr=True), transient=True) as bar:
        task = bar.add_task("đọc tệp", total=4)

        def progress(step: int, total: int) -> None:
            bar.update(task, completed=step, total=total, description=steps.get(step + 1, "xong"))

        try:
            summary = dedupe_csv(input, output, progress=progress)
        except (ValueError, FileNotFoundError) as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    console.print(f"{summary['records']} records -> {summary['clusters']} persons "
                  f"({summary['review_pairs']} uncertain pairs); written {output}")


@app.command()
def explain(
    student: str = typer.Argument(..., help="Person id (HS000123), a name, or FILE:SHEET:ROW / FILE:ROW as in students.csv."),
    out: Path = typer.Option(Path("outputs"), "--out"),
    ledger: Optional[str] = typer.Option(None, "--ledger", help="Ledger database URL (default: "
                                         "SONGMAYTINH_LEDGER_URL, else OUT/ledger.sqlite); only read."),
) -> None:
    """Explain a child's outcome in the latest run (category and the rule that chose it, tier, rank, status,
    reason, merged ids and officer decisions, source rows)."""
    from flows.pipeline import default_ledger_url
    from flows.publishing.explain import explain_student

    url = ledger or default_ledger_url(out)
    book = None
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file():
        from flows.adapters.ledger import Ledger

        book = Ledger(url)
    try:
        text = explain_student(student, out / "latest", ledger=book)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        if book is not None:
            book.close()
    typer.echo(text)


@app.command()
def status(
    out: Path = typer.Option(Path("outputs"), "--out", help="Output root (its ledger.sqlite is the default ledger)."),
    ledger: Optional[str] = typer.Option(None, "--ledger", help="Ledger database URL (default: "
                                         "SONGMAYTINH_LEDGER_URL, else OUT/ledger.sqlite)."),
    last: int = typer.Option(10, "--last", "-n", min=1, help="How many nights, newest first."),
) -> None:
    """The last nights from the ledger: run id, as-of, duration, sources ok / stale / failed, changes."""
    from flows.pipeline import default_ledger_url

    url = ledger or default_ledger_url(out)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        console.print(f"[red]Chưa có sổ cái (no ledger yet): {url.removeprefix('sqlite:///')}[/red]")
        raise typer.Exit(2)
    from flows.adapters.ledger import Ledger
    from flows.publishing.night_report import history

    with Ledger(url) as led:
        rows = history(led.runs(), last)
    from rich import box

    table = Table(title=f"{len(rows)} lần chạy gần nhất (mới nhất trước)", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Lần chạy", no_wrap=True)
    table.add_column("Số liệu\nngày", no_wrap=True)
    table.add_column("Thời\ngian", justify="right", no_wrap=True)
    table.add_column("Nguồn đọc được\n/ bản lưu / lỗi", justify="center", no_wrap=True)
    table.add_column("Thay\nđổi", justify="right", no_wrap=True)
    table.add_column("Trạng\nthái", no_wrap=True)
    for r in rows:
        table.add_row(r["run_id"], r["as_of"], r["duration"],
                      f"{r['sources_ok']} / {r['sources_stale']} / {r['sources_failed']}", r["changes"], r["status"])
    console.print(table)


@app.command()
def bench(
    what: str = typer.Argument("district", help="district | dedupe | scale | province | national"),
    scale: float = typer.Option(1.0, "--scale"),
    rows: Optional[int] = typer.Option(None, "--rows", help="national: student rows (default 140,000 × scale)."),
    series: Optional[str] = typer.Option(None, "--series",
                                         help="national: several sizes, e.g. 20000,40000,80000 (growth exponent)."),
    districts: Optional[int] = typer.Option(None, "--districts",
                                            help="national: districts (default one per 12,500 rows)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="national: where generated samples are kept "
                                         "(default SONGMAYTINH_BENCH_CACHE or ~/.cache/songmaytinh/national)."),
) -> None:
    """Print speed and memory figures (never asserted by tests)."""
    from flows.bench import run_bench

    sizes = [int(s) for s in series.split(",")] if series else ([rows] if rows else None)
    run_bench(what, scale, console, sizes, districts, cache)


province_app = typer.Typer(add_completion=False, no_args_is_help=True,
                           help="A province: every district's night in parallel on Dask, then the province workbook.")
app.add_typer(province_app, name="province")


@province_app.command("run")
def province_run(
    config: Path = typer.Option(Path("config/province"), "--config", help="province.yaml or its folder."),
    out: Path = typer.Option(Path("outputs/province"), "--out",
                             help="Output root: OUT/<code>-<slug>/ per district, OUT/tinh/ for the province."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="As of this date (YYYY-MM-DD)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="A running Dask scheduler (tcp://host:8786); default: "
                                                 "dask.address in province.yaml, else a LocalCluster."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each district (counts and ids only)."),
) -> None:
    """Run the night of every district of the province that has a config, then write the province workbook."""
    _setup_logging(verbose)
    for noisy in ("distributed", "prefect_dask"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    from flows.config import ConfigError
    from flows.province.config import load_province

    try:
        province = load_province(config)
        for district in province.taking_part:
            province.district_config(district)
    except ConfigError as exc:
        console.print(f"[red]Cấu hình không hợp lệ (invalid configuration):[/red] {exc}")
        raise typer.Exit(2) from None
    _check_as_of(as_of)
    from flows.province.flow import run_province

    started = time.monotonic()
    with console.status(f"Đang tổng hợp {len(province.taking_part)} huyện song song (Dask)...", spinner="dots"):
        outcome = run_province(province.path, out, as_of, scheduler)
    table = Table(title=f"Tổng hợp toàn tỉnh — {outcome['run_id']}")
    for column in ("Huyện, thành phố", "Tình trạng", "Học sinh", "Đã hỗ trợ", "Đang chờ", "Thư mục"):
        table.add_column(column)
    for d in outcome["districts"]:
        counts = d.get("counts", {})
        table.add_row(d["name"], "đã tổng hợp" if d["status"] == "ok" else f"lỗi: {d.get('failure', '')}",
                      str(counts.get("persons", "")), str(counts.get("allocated", "")),
                      str(counts.get("waitlisted", "")), d.get("run_dir", ""))
    console.print(table)
    console.print(f"Bảng tổng hợp của tỉnh (province workbook): [bold]{outcome['workbook']}[/bold]")
    console.print(f"Xong trong {time.monotonic() - started:.0f} giây.")
    raise typer.Exit(1 if any(d["status"] != "ok" for d in outcome["districts"]) else 0)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
