"""The monthly bundle as files: its tables computed (on worker processes where that helps)
and written as an Excel workbook, offline HTML, a PDF summary and optionally a chart PNG.

`write_bundle` is the one way to make it (`write_monthly` runs it on a worker pool):
`safetrain report monthly`, `safetrain demo`, the Jupyter coverage panel's download and
bench/reports.py all call it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from records import db
from records.curriculum import Curriculum
from records.reports import monthly
from records.reports.base import Scope, resolve_scope

Stage = Callable[[str], AbstractContextManager[Any]]


def cover_meta(scope: Scope) -> list[tuple[str, str]]:
    """The facts on a report's cover: its scope, its period, when it was made."""
    return [("统计范围", scope.unit_path),
            ("统计期", f"{scope.period.label}（{scope.start} 至 {scope.end}）"),
            ("生成时间", dt.datetime.now().strftime("%Y-%m-%d %H:%M"))]


def worker_pool(url: str, workers: int | None = None) -> ProcessPoolExecutor | None:
    """A pool for `monthly.build`, or None where one would not help (one core, an
    in-memory database). Make it before opening sessions or starting threads: the workers
    are forked at once, so they inherit the imports but no connection or lock."""
    workers = min(len(monthly.JOBS), workers or os.cpu_count() or 1)
    database = make_url(url).database or ""
    if workers < 2 or (url.startswith("sqlite") and database in ("", ":memory:")):
        return None
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    pool.submit(int).result()  # fork every worker now (fork starts them all at the first task)
    return pool


@dataclass
class Written:
    """The bundle (its summary, seed and tables) and the files written, in order."""

    bundle: monthly.Bundle
    paths: list[Path] = field(default_factory=list)


def _no_stage(_: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


def write_monthly(url: str, folder: Path, *, period: str | None = None,
                  as_of: dt.date | None = None, unit: str | None = None,
                  workers: int | None = None, **options: Any) -> Written:
    """The bundle for `unit` (code or path; the whole tree when None) on a worker pool
    (`workers` as `safetrain report monthly --workers`), written by `write_bundle`."""
    pool = worker_pool(url, workers)  # before any connection or spinner thread
    try:
        with db.open_session(url) as session:
            scope = resolve_scope(session, period=period, as_of=as_of, unit=unit)
            return write_bundle(session, scope, folder, pool=pool, **options)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def write_bundle(session: Session, scope: Scope, folder: Path, *,
                 curriculum: Curriculum | None = None, seed: int | None = None,
                 activity: str = "training", min_sample: int = 10, xlsx: bool = True,
                 html: bool = True, pdf: bool = True, chart_png: Path | None = None,
                 pool: Executor | None = None, stage: Stage = _no_stage) -> Written:
    """Compute the bundle for `scope` and write monthly-PERIOD[-UNIT].xlsx/.html/.pdf (and
    `chart_png`) to `folder`. `stage(text)` wraps the two long steps (a terminal spinner)."""
    from writers.excel import ExcelBook

    stem = f"monthly-{scope.period.code}" + (f"-{scope.unit.code}" if scope.unit else "")
    # The workbook fills each sheet as soon as its table is computed.
    book = ExcelBook(folder / f"{stem}.xlsx", monthly.SHEETS, title=monthly.title_of(scope),
                     background=pool is not None) if xlsx else None
    try:
        with stage("统计中 ……"):
            bundle = monthly.build(session, scope=scope, curriculum=curriculum, seed=seed,
                                   activity=activity, min_sample=min_sample, pool=pool,
                                   on_sheet=book.add if book else None)
    except BaseException:
        if book is not None:
            book.discard()
        raise
    with stage("写文件 ……"):
        paths = _write_files(bundle, folder / stem, book, pool, html=html, pdf=pdf,
                             chart_png=chart_png)
    return Written(bundle, paths)


def _write_files(bundle: monthly.Bundle, stem: Path, book: Any, pool: Any, *, html: bool,
                 pdf: bool, chart_png: Path | None) -> list[Path]:
    """HTML and PDF on the workers while the workbook is finished here."""
    from writers.html import write_html
    from writers.pdf import write_pdf

    meta = cover_meta(bundle.scope) + [("交叉抽查随机种子", str(bundle.seed))]
    lines = [f"{k}：{v}" for k, v in meta]
    written: list[Callable[[], Path]] = []
    if html:
        written.append(_later(pool, write_html, stem.parent / f"{stem.name}.html", bundle.sheets,
                              title=bundle.title, summary=bundle.summary, meta=lines))
    if pdf:
        written.append(_later(pool, write_pdf, stem.parent / f"{stem.name}.pdf", bundle.sheets,
                              title=bundle.title, summary=bundle.summary, meta=lines))
    if book:
        path = book.close(bundle.sheets, summary=bundle.summary, meta=meta)
        written.insert(0, lambda: path)
    if chart_png:
        from writers.png import write_png

        written.append(_later(None, write_png, chart_png, bundle.sheets,
                              title=bundle.title, summary=bundle.summary[:3]))
    return [result() for result in written]


def _later(pool: Any, fn: Callable[..., Path], *args: Any, **kwargs: Any) -> Callable[[], Path]:
    """Start `fn` on `pool` now (or later, here, without one); call the result to wait."""
    if pool is None:
        return lambda: fn(*args, **kwargs)
    return pool.submit(fn, *args, **kwargs).result
