"""Benchmark: `safetrain grade` against stock `nbgrader autograde` on the same 100 submissions.

    python bench/grade_batch.py [--submissions 100] [--module rescue-fire] [--workers 2]

Both run as their own processes on identical copies of a fresh course. Peak memory is the
largest total PSS of the grader's whole process tree, workers and kernels included
(bench/measure.py). Scores must be identical, cell by cell, for every submission both
could grade; the broken files are reported separately. Target (issue 5): ≥ 3× stock on
2 cores, < 1 GB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import run_measured  # noqa: E402 (after the path is set)


def cell_scores(course_root: Path, module: str) -> dict[tuple[str, str], float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}", "safetrain") as gb:
        return {(s.student.id, g.name): float(g.score)
                for s in gb.assignment_submissions(module)
                for nb in s.notebooks for g in nb.grades if g.auto_score is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--module", default="rescue-fire")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    from autograder.course import release
    from autograder.samples import write_sample_zip
    from autograder.submissions import from_zip
    from records import db
    from records.instance import Instance

    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        students = [f"trainee{n:03d}" for n in range(args.submissions)]
        archive = Path(tmp) / "submissions.zip"
        kinds = write_sample_zip(archive, args.module, students, seed=7, broken=2)
        homes = {}
        for name in ("stock", "safetrain"):
            inst = Instance.from_env(Path(tmp) / name)
            inst.create_dirs()
            engine = db.make_engine(inst.db_url)
            db.upgrade(engine)
            engine.dispose()
            release(inst, [args.module])
            from_zip(archive, inst.course_dir / "submitted", args.module)
            homes[name] = inst
        mix = {k: sum(1 for v in kinds.values() if v == k) for k in sorted(set(kinds.values()))}
        print(f"{args.submissions} submissions of {args.module} ({mix}); cores: {os.cpu_count()}")

        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
        stock_s, stock_mb, *_ = run_measured(
            [str(bin_dir / "nbgrader"), "autograde", args.module], env, homes["stock"].course_dir)
        ours_env = {**env, "SAFETRAIN_HOME": str(homes["safetrain"].home)}
        ours_env.pop("SAFETRAIN_DB", None)
        ours_s, ours_mb, code, *_ = run_measured(
            [str(bin_dir / "safetrain"), "grade", args.module, "--workers", str(args.workers),
             "--no-feedback"], ours_env, ROOT)

        stock = cell_scores(homes["stock"].course_dir, args.module)
        ours = cell_scores(homes["safetrain"].course_dir, args.module)
        intact = {k for k in stock if kinds[k[0]] != "broken"}
        same = all(stock[k] == ours.get(k) for k in intact) and len(intact) > 0
        broken = [s for s, k in kinds.items() if k == "broken"]
        n = args.submissions
        print(f"{'grader':<28}{'seconds':>9}{'per nb':>9}{'nb/s':>7}{'peak MB':>9}")
        for label, secs, mb in (("stock nbgrader autograde", stock_s, stock_mb),
                                (f"safetrain grade ({args.workers} workers)", ours_s, ours_mb)):
            print(f"{label:<28}{secs:>9.1f}{secs / n:>9.2f}{n / secs:>7.1f}{mb:>9.0f}")
        speedup = stock_s / ours_s
        print(f"speed-up safetrain vs stock: {speedup:.2f}x  (target >= 3x, < 1024 MB: "
              f"{'ok' if speedup >= 3 and ours_mb < 1024 else 'MISSED'})")
        print(f"scores identical cell by cell on {len(intact)} graded cells of "
              f"{n - len(broken)} intact submissions: {same}")
        print(f"broken files {broken}: stock graded {sum(1 for k in stock if k[0] in broken)} "
              f"cells, safetrain recorded them as failed (exit code {code})")
        if not same:
            raise SystemExit("scores differ from stock nbgrader")


if __name__ == "__main__":
    main()
