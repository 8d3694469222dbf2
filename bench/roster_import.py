"""Benchmark: roster import of a 100,000-row xlsx and CSV against a naive pandas baseline.

    python bench/roster_import.py [--people 100000] [--db sqlite|postgresql] [--pg-url URL]

Each measurement runs in its own process (peak RSS is that process's own). The baseline is
what a quick script would do: pandas read_excel/read_csv + to_sql, with no validation, no
org tree and no post history. Targets (issue 3): xlsx < 60 s and < 1 GB, CSV < 15 s, and no
slower than the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_db(kind: str, workdir: Path, pg_url: str | None) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if kind == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    assert pg_url, "--pg-url is needed for PostgreSQL"
    name = f"safetrain_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg_url).set(database=name).render_as_string(False)


def drop_db(url: str, pg_url: str | None) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        Path(make_url(url).database or "").unlink(missing_ok=True)
        return
    admin = create_engine(pg_url or "", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def child(mode: str, path: Path, url: str) -> None:
    """Run one measurement in this process and print JSON."""
    from records import db

    if mode == "safetrain":
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        from records.importers.roster import import_roster

        start = time.perf_counter()
        with db.open_session(url) as session:
            report = import_roster(session, path)
        elapsed = time.perf_counter() - start
        rows = report.people_created
    else:
        import pandas as pd
        from sqlalchemy import create_engine

        start = time.perf_counter()
        if path.suffix == ".xlsx":
            df = pd.read_excel(path, header=1, dtype=str)
        else:
            df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        engine = create_engine(url)
        df.to_sql("naive_roster", engine, index=False, chunksize=10000)
        engine.dispose()
        elapsed = time.perf_counter() - start
        rows = len(df)
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_rss_mb(), "rows": rows}))


def measure(mode: str, path: Path, kind: str, workdir: Path, pg_url: str | None) -> dict:
    url = fresh_db(kind, workdir, pg_url)
    try:
        out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), url],
                             check=True, capture_output=True, text=True, cwd=ROOT).stdout
    finally:
        drop_db(url, pg_url)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("SAFETRAIN_TEST_PG_URL"))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FILE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.child[2])
        return

    from demo import city as demo_city

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        start = time.perf_counter()
        city = demo_city.generate(args.people, seed=1)
        xlsx = demo_city.write_roster_xlsx(city, workdir / "roster.xlsx")
        csv = demo_city.write_roster_csv(city, workdir / "roster.csv")
        print(f"roster: {len(city):,} rows, written in {time.perf_counter() - start:.1f} s "
              f"(xlsx {xlsx.stat().st_size / 1e6:.1f} MB, csv {csv.stat().st_size / 1e6:.1f} MB); "
              f"database: {args.db}; cores: {os.cpu_count()}")
        print(f"{'file':<6}{'method':<24}{'seconds':>9}{'peak MB':>10}{'rows':>10}")
        # The targets: xlsx < 60 s and no slower than the baseline; CSV < 15 s.
        for path, target, vs_naive in ((xlsx, 60.0, True), (csv, 15.0, False)):
            ours = measure("safetrain", path, args.db, workdir, args.pg_url)
            naive = measure("naive", path, args.db, workdir, args.pg_url)
            for label, r in (("safetrain roster import", ours), ("naive pandas + to_sql", naive)):
                print(f"{path.suffix[1:]:<6}{label:<24}{r['seconds']:>9.1f}{r['peak_mb']:>10.0f}"
                      f"{r['rows']:>10,}")
            ratio = ours["seconds"] / naive["seconds"]
            ok = ours["seconds"] < target and ours["peak_mb"] < 1024 and (ratio <= 1 or not vs_naive)
            goal = f"< {target:.0f} s, < 1024 MB" + (", ratio <= 1" if vs_naive else "")
            print(f"{'':<6}ratio safetrain/naive = {ratio:.2f}  (target {goal}: "
                  f"{'ok' if ok else 'MISSED'})")


if __name__ == "__main__":
    main()
