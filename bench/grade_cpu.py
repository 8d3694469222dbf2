"""Benchmark: CPU-seconds per notebook of `safetrain grade` now against an earlier commit.

    python bench/grade_cpu.py [--baseline 1eba46c] [--submissions 40] [--modules rescue-fire inspector-practice]

Both graders run in the same run on identical submissions of the same (current) notebooks:
the baseline from a git worktree of that commit (with its own curriculum.yml, whose schema it
knows), ours from this checkout. CPU is read from a cpuacct cgroup that holds each run's whole
process tree (sandboxed kernels included), so other work on the machine does not count.
Scores must be identical cell by cell on every intact submission. Needs root (cgroups).
Target (issue 13): ours at most the baseline + 10% on rescue-fire and inspector-practice.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.grade_batch import cell_scores  # noqa: E402 (after the path is set)

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def cpuacct_dir(name: str) -> Path:
    for base in (CPUACCT, Path("/sys/fs/cgroup")):
        if (base / "cpuacct.usage").exists() or (base / "cpu.stat").exists():
            path = base / name
            path.mkdir(exist_ok=True)
            return path
    raise SystemExit("需要 cpuacct（cgroup v1）或 cgroup v2 的 cpu.stat")


def cpu_seconds(group: Path) -> float:
    if (group / "cpuacct.usage").exists():
        return int((group / "cpuacct.usage").read_text()) / 1e9
    for line in (group / "cpu.stat").read_text().splitlines():
        key, value = line.split()
        if key == "usage_usec":
            return int(value) / 1e6
    return 0.0


def run_in_group(cmd: list[str], env: dict, cwd: Path, group: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit code) of `cmd` and everything it starts."""
    before = cpu_seconds(group)
    start = time.perf_counter()
    script = 'echo $$ > "$0/cgroup.procs"; exec "$@"'
    proc = subprocess.run(["/bin/sh", "-c", script, str(group), *cmd], env=env, cwd=cwd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode not in (0, 1):
        print(proc.stderr[-2000:])
    return cpu_seconds(group) - before, time.perf_counter() - start, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="1eba46c")
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--modules", nargs="+", default=["rescue-fire", "inspector-practice"])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    from autograder.course import release
    from autograder.samples import write_sample_zip
    from autograder.submissions import from_zip
    from records import db
    from records.instance import Instance

    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        worktree = tmp_path / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree),
                        args.baseline], check=True, capture_output=True)
        try:
            baseline_courses = tmp_path / "baseline-courses"
            shutil.copytree(ROOT / "courses", baseline_courses)
            shutil.copy(worktree / "courses" / "curriculum.yml", baseline_courses / "curriculum.yml")
            print(f"baseline {args.baseline} vs this checkout; {args.submissions} submissions per "
                  f"module; {args.workers} workers; cores: {os.cpu_count()}")
            print(f"{'module':<20}{'grader':<12}{'CPU s':>8}{'CPU s/nb':>10}{'wall s':>8}")
            for module in args.modules:
                students = [f"trainee{n:03d}" for n in range(args.submissions)]
                archive = tmp_path / f"{module}.zip"
                kinds = write_sample_zip(archive, module, students, seed=7, broken=0)
                results = {}
                for name, code_root, courses in (("baseline", worktree, baseline_courses),
                                                 ("ours", ROOT, ROOT / "courses")):
                    home = tmp_path / f"{module}-{name}"
                    env = {**os.environ, "SAFETRAIN_HOME": str(home), "SAFETRAIN_COURSES": str(courses),
                           "PYTHONPATH": str(code_root)}
                    env.pop("SAFETRAIN_DB", None)
                    os.environ["SAFETRAIN_COURSES"] = str(courses)
                    inst = Instance.from_env(home)
                    inst.create_dirs()
                    engine = db.make_engine(inst.db_url)
                    db.upgrade(engine) if name == "ours" else None
                    engine.dispose()
                    if name == "baseline":
                        subprocess.run([python, "-m", "scripts.cli", "db", "upgrade"], env=env,
                                       cwd=code_root, capture_output=True)
                    release(inst, [module])
                    from_zip(archive, inst.course_dir / "submitted", module)
                    group = cpuacct_dir(f"safetrain-bench-{name}-{os.getpid()}")
                    try:
                        cpu, wall, code = run_in_group(
                            [python, "-m", "scripts.cli", "grade", module, "--workers", str(args.workers),
                             "--no-feedback"], env, code_root, group)
                    finally:
                        group.rmdir()
                    results[name] = (cpu, cell_scores(inst.course_dir, module))
                    print(f"{module:<20}{name:<12}{cpu:>8.1f}{cpu / args.submissions:>10.3f}{wall:>8.1f}")
                ratio = results["ours"][0] / results["baseline"][0]
                same = results["ours"][1] == results["baseline"][1] and len(results["ours"][1]) > 0
                mix = {k: sum(1 for v in kinds.values() if v == k) for k in sorted(set(kinds.values()))}
                print(f"{module}: ours / baseline CPU = {ratio:.2f} (target <= 1.10: "
                      f"{'ok' if ratio <= 1.10 else 'MISSED'}); scores identical cell by cell: {same} {mix}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True)


if __name__ == "__main__":
    main()
