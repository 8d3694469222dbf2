"""Benchmark: `safetrain report monthly` on a 100,000-person city with a year of activity,
against a naive baseline (load the tables into pandas and compute there), in the same run.

    python bench/reports.py [--people 100000] [--db sqlite|postgresql|both] [--pg-url URL]
                            [--seed 7] [--reuse URL]

The city comes from `demo-data` (demo.city) and its year of activity from
demo.activity: about 5,000 units, over 1,000,000 sign-in and drill rows. Each
measurement runs in its own process. Peak memory of the command is the largest total PSS
of its whole process tree (its worker processes included, bench/measure.py); of the
other measurements, the process's maximum RSS:

- `safetrain report monthly`: the real command (xlsx + offline HTML + PDF), wall time from
  outside, so it includes starting Python and importing the command line; once as it
  runs by default (tables computed on worker processes, one per core, while the workbook
  is written) and once with `--workers 1` (everything in one process);
- the same bundle called in-process in one process, split into computing the tables and
  writing the files, to show where the time goes;
- the naive baseline: read_sql of every table it needs, then pandas merges and groupbys for
  the same figures (coverage, leaders against staff with the named list, certificates,
  drills, turnover), writing nothing. Certification statuses come from the same
  `person_statuses` on both sides: the rules are Python either way, and re-writing them
  in pandas is what the issue forbids.

Targets (issue 7): the monthly bundle under 10 s and under 1 GB on each database, and
faster than the naive baseline. Not run in CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from bench.measure import run_measured  # noqa: E402 (after the path is set)

PERIOD, AS_OF = "2026-11", dt.date(2026, 11, 30)
TARGET_SECONDS, TARGET_MB = 10.0, 1024.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_db(kind: str, workdir: Path, pg_url: str | None) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if kind == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    assert pg_url, "--pg-url (or SAFETRAIN_TEST_PG_URL) is needed for PostgreSQL"
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


# --------------------------------------------------------------------------- children


def child_setup(url: str, people: int, seed: int) -> None:
    from demo import activity as demo_activity
    from demo import city as demo_city
    from records import db

    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    start = time.perf_counter()
    city = demo_city.generate(people, seed)
    with db.open_session(url) as session:
        demo_city.load(session, city, seed)
    city_s = time.perf_counter() - start
    with db.open_session(url) as session:
        report = demo_activity.generate(session, seed=seed)
    if url.startswith("postgresql"):  # fresh statistics, as autovacuum would give a live server
        from sqlalchemy import create_engine, text

        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
    print(json.dumps({"city_s": city_s, "seconds": time.perf_counter() - start,
                      "attendance": report.attendance, "participation": report.participation,
                      "rows": report.rows}))


def child_inprocess(url: str, out: str) -> None:
    """The bundle as `report monthly` builds it (one process), timed by stage."""
    start = time.perf_counter()
    import contextlib

    from records import db
    from records.reports.base import resolve_scope
    from writers.bundle import write_bundle

    imported = time.perf_counter()
    phases: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(text: str):  # noqa: ANN202 (a generator context manager)
        t = time.perf_counter()
        yield
        phases["build" if "统计" in text else "write"] = time.perf_counter() - t

    with db.open_session(url) as session:
        scope = resolve_scope(session, period=PERIOD, as_of=AS_OF)
        bundle = write_bundle(session, scope, Path(out), seed=1, stage=stage).bundle
    print(json.dumps({"seconds": time.perf_counter() - start, "import": imported - start,
                      **phases, "peak_mb": peak_rss_mb(), "summary": bundle.summary[:3]}))


def child_naive(url: str) -> None:
    start = time.perf_counter()
    import pandas  # noqa: F401 (imports are part of what the script costs)

    from records import db
    from records.reports.base import resolve_scope
    from records.reports.statuses import person_statuses

    imported = time.perf_counter()
    figures = naive_monthly(url)
    with db.open_session(url) as session:
        statuses = person_statuses(session, scope=resolve_scope(session, period=PERIOD,
                                                                  as_of=AS_OF))
    figures["certified"] = int(statuses["status"].isin(["issued", "expiring"]).sum())
    print(json.dumps({"seconds": time.perf_counter() - start, "import": imported - start,
                      "compute": time.perf_counter() - imported, "peak_mb": peak_rss_mb(),
                      "figures": figures}))


def naive_monthly(url: str) -> dict[str, float]:
    """What a quick script would do: every table into pandas, then merge and group."""
    import pandas as pd
    from sqlalchemy import create_engine

    start, end = pd.Timestamp(PERIOD + "-01"), pd.Timestamp(AS_OF)
    engine = create_engine(url)
    with engine.connect() as conn:
        def table(name: str, columns: str = "*") -> pd.DataFrame:
            return pd.read_sql(f"SELECT {columns} FROM {name}", conn)

        units = table("org_unit", "id, path, level, parent_id")
        posts = table("post", "id, person_id, unit_id, role, start_date, end_date")
        sessions = table("training_session", "id, organizer_id, held_on, hours")
        attendance = table("training_attendance", "session_id, person_id, status, minutes")
        drills = table("drill", "id, organizer_id, held_on, planned_participants, residents")
        drill_units = table("drill_unit")
        participation = table("drill_participation", "drill_id, person_id, status")
        attempts = table("attempt", "person_id, module, passed, graded_at")
        certs = table("certificate", "person_id, role, valid_from, valid_until, revoked_on")
    engine.dispose()
    for df, cols in ((posts, ["start_date", "end_date"]), (sessions, ["held_on"]),
                     (drills, ["held_on"]), (certs, ["valid_from", "valid_until", "revoked_on"])):
        for c in cols:
            df[c] = pd.to_datetime(df[c])
    # Ancestors of every unit from its path: (unit_id, ancestor path) → ancestor id.
    by_path = dict(zip(units["path"], units["id"], strict=True))
    links = units[["id", "path"]].assign(
        anc=units["path"].map(lambda p: ["/".join(p.split("/")[:i + 1])
                                         for i in range(p.count("/") + 1)])).explode("anc")
    links = pd.DataFrame({"unit_id": links["id"], "ancestor_id": links["anc"].map(by_path)})

    held = posts[(posts["start_date"] <= end) & (posts["end_date"].isna()
                                                  | (posts["end_date"] >= end))]
    # coverage: modules, hours, drills per person, rolled up
    passed = attempts[attempts["passed"].astype(bool)].groupby("person_id")["module"].nunique()
    att = attendance.merge(sessions, left_on="session_id", right_on="id")
    att = att[(att["held_on"] >= start) & (att["held_on"] <= end)]
    took = att["status"].isin(["present", "left_early"])
    att["credited"] = (att["minutes"].fillna(att["hours"] * 60) / 60).clip(upper=att["hours"])
    hours = att[took].groupby("person_id")["credited"].sum()
    part = participation.merge(drills, left_on="drill_id", right_on="id")
    part = part[(part["held_on"] >= start) & (part["held_on"] <= end)
                & part["status"].isin(["present", "left_early"])]
    drilled = set(part["person_id"])
    people = held[["person_id", "unit_id", "role"]].copy()
    people["modules_ok"] = people["person_id"].map(passed).fillna(0) >= 6
    people["hours_ok"] = people["person_id"].map(hours).fillna(0) >= 1
    people["drill_ok"] = people["person_id"].isin(drilled)
    valid = certs[(certs["valid_from"] <= end) & (certs["valid_until"] >= end)
                  & certs["revoked_on"].isna()]
    people["certified"] = people["person_id"].isin(set(valid["person_id"]))
    rolled = people.merge(links, on="unit_id").groupby("ancestor_id").agg(
        people=("person_id", "nunique"), modules=("modules_ok", "sum"),
        hours=("hours_ok", "sum"), drill=("drill_ok", "sum"), certified=("certified", "sum"))
    # leaders against staff: expected = posts in the holding unit on the day
    expected = att[["session_id", "organizer_id", "held_on"]].drop_duplicates().merge(
        posts, left_on="organizer_id", right_on="unit_id")
    expected = expected[(expected["start_date"] <= expected["held_on"])
                        & (expected["end_date"].isna()
                           | (expected["end_date"] >= expected["held_on"]))
                        & (expected["role"] != "volunteer")]
    expected = expected.merge(attendance, on=["session_id", "person_id"], how="left")
    expected["leader"] = expected["role"].isin(["principal_leader", "deputy_leader"])
    expected["took"] = expected["status"].isin(["present", "left_early"])
    leaders = expected.merge(links, left_on="unit_id", right_on="unit_id").groupby(
        ["ancestor_id", "leader"])["took"].mean().unstack()
    named = expected[expected["leader"] & ~expected["took"]].groupby(
        ["unit_id", "person_id"]).agg(missed=("session_id", "count"))
    # certificates 30/60/90 and lapsed
    days_left = (valid["valid_until"] - end).dt.days
    due = valid.assign(d=days_left).merge(held, on="person_id")
    expired = certs.groupby("person_id")["valid_until"].max()
    lapsed = held[held["person_id"].map(expired) < end]
    due_rolled = due.merge(links, on="unit_id").groupby("ancestor_id")["d"].agg(
        lambda d: ((d <= 30).sum(), (d <= 60).sum(), (d <= 90).sum()))
    # drills by unit, turnover
    touched = drill_units.merge(drills, left_on="drill_id", right_on="id")
    recent = touched[touched["held_on"] > end - pd.DateOffset(months=12)]
    drills_rolled = recent.merge(links, on="unit_id").groupby("ancestor_id")["drill_id"].nunique()
    in_period = drills[(drills["held_on"] >= start) & (drills["held_on"] <= end)]
    planned = in_period.merge(links, left_on="organizer_id", right_on="unit_id").groupby(
        "ancestor_id")[["planned_participants", "residents"]].sum()
    left = posts[(posts["end_date"] >= start) & (posts["end_date"] <= end)]
    trained = left.merge(attendance.merge(sessions, left_on="session_id", right_on="id"),
                         on="person_id")
    trained = trained[(trained["held_on"] >= trained["start_date"])
                      & (trained["held_on"] <= trained["end_date"])
                      & ((trained["end_date"] - trained["held_on"]).dt.days <= 180)]
    return {"units": int(len(rolled)), "people": int(rolled["people"].max()),
            "leader_rows": int(len(leaders)), "named": int(len(named)),
            "planned_rows": int(len(planned)), "due90": int(len(due_rolled)),
            "lapsed": int(len(lapsed)), "drill_units": int(len(drills_rolled)),
            "trained_leavers": int(trained["id_x"].nunique())}


# --------------------------------------------------------------------------- parent


def run(args: list[str], timeout: float = 3600) -> tuple[dict, float, float]:
    """Run a child; (its JSON, wall seconds, peak RSS MB of that child alone)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{err[-3000:]}")
    lines = [line for line in out.strip().splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), wall, usage.ru_maxrss / 1024


def command(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak PSS MB of the whole process tree) of a command."""
    wall, mb, code, _, err = run_measured(args, cwd=ROOT)
    if code != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{err[-3000:]}")
    return wall, mb


def bench(kind: str, people: int, seed: int, pg_url: str | None, reuse: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = reuse or fresh_db(kind, workdir, pg_url)
        try:
            if not reuse:
                setup, _, _ = run([sys.executable, __file__, "--child", "setup", url,
                                   str(people), str(seed)])
                print(f"city: {people:,} people, activity {setup['attendance']:,} sign-ins + "
                      f"{setup['participation']:,} drill rows ({setup['rows']:,} rows in all), "
                      f"generated in {setup['seconds']:.0f} s")
            safetrain = str(Path(sys.executable).parent / "safetrain")
            monthly = [safetrain, "--db", url, "report", "monthly", "--period", PERIOD,
                       "--as-of", AS_OF.isoformat(), "--seed", "1", "--out",
                       str(workdir / "out")]
            wall, rss = command(monthly)
            one_wall, one_rss = command([*monthly, "--workers", "1"])
            inproc, _, inproc_rss = run([sys.executable, __file__, "--child", "inprocess", url,
                                         str(workdir)])
            naive, naive_wall, naive_rss = run([sys.executable, __file__, "--child", "naive",
                                                url])
        finally:
            if not reuse:
                drop_db(url, pg_url)
    print(f"database: {kind}; cores: {os.cpu_count()}; period {PERIOD} as of {AS_OF}")
    print(f"{'measurement':<46}{'seconds':>9}{'peak MB':>9}")
    print(f"{'safetrain report monthly (command, xlsx+html+pdf)':<46}{wall:>9.1f}{rss:>9.0f}")
    print(f"{'  the same with --workers 1 (one process)':<46}{one_wall:>9.1f}{one_rss:>9.0f}")
    print(f"{'one process, in-process: import':<46}{inproc['import']:>9.1f}{inproc_rss:>9.0f}")
    print(f"{'  in-process: tables (SQL + rules, xlsx rows)':<46}{inproc['build']:>9.1f}")
    print(f"{'  in-process: finish xlsx, write html + pdf':<46}{inproc['write']:>9.1f}")
    print(f"{'naive pandas baseline (process)':<46}{naive_wall:>9.1f}{naive_rss:>9.0f}")
    print(f"{'  naive: load tables + compute (+ same statuses)':<46}{naive['compute']:>9.1f}")
    compute_ratio = inproc["build"] / naive["compute"]
    print(f"ratio compute/naive compute = {compute_ratio:.2f}; command/naive process = "
          f"{wall / naive_wall:.2f}")
    for label, seconds, mb in (("command", wall, rss), ("command --workers 1", one_wall, one_rss)):
        ok = seconds < TARGET_SECONDS and mb < TARGET_MB and compute_ratio < 1
        print(f"  {label}: {seconds:.1f} s, {mb:.0f} MB (target < {TARGET_SECONDS:.0f} s, "
              f"< {TARGET_MB:.0f} MB, faster than naive: {'ok' if ok else 'MISSED'})")
    print("summary:", " / ".join(inproc["summary"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get(
        "SAFETRAIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", help="measure an existing database URL (no generation)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        if mode == "setup":
            child_setup(rest[0], int(rest[1]), int(rest[2]))
        elif mode == "inprocess":
            child_inprocess(rest[0], rest[1])
        else:
            child_naive(rest[0])
        return
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for n, kind in enumerate(kinds):
        if n:
            print()
        bench(kind, args.people, args.seed, args.pg_url, args.reuse)


if __name__ == "__main__":
    main()
