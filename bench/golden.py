"""Golden checks for a behaviour-preserving refactor: take snapshots, later compare.

    SAFETRAIN_COURSES=/tmp/golden-courses/courses python bench/golden.py take [--dir /tmp/golden]
    SAFETRAIN_COURSES=/tmp/golden-courses/courses python bench/golden.py compare [--dir /tmp/golden]

What is snapshotted (each a text file in --dir, `take` writes them, `compare` writes a fresh
set beside them in <dir>/now/ and prints a unified diff per file that differs):

- cli.md: docs/cli.md as `make docs` renders it (rendered in memory, the repo file untouched;
  the `safetrain hub` commands, which issue #19 adds meanwhile, left out);
- demo-1.txt, demo-2.txt: the terminal output (stdout) of `safetrain demo` on a fresh
  SQLite instance, then of a second run on the same instance (nothing new);
- xlsx-*.txt: every cell value of every workbook the demo writes under reports/;
- pdf-*.txt: `pdftotext -layout` of every PDF the demo writes;
- html-*.txt: the visible text of every HTML report (scripts and styles left out).

Masked before writing: the instance path and the checkout path, the run time ("用时 N 秒"),
verification codes (an HMAC with the instance's random secret),
and wall-clock stamps ("生成时间 2026-…", any time of day today: not a date alone, since
the demo's own data is dated around now). The demo's own dates are pinned by
the demo itself (its period and as-of); the courses must be pinned with SAFETRAIN_COURSES.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import html.parser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = Path("/tmp/golden-run")  # fixed, so paths (and rich's line wrapping) never differ
SAFETRAIN = ROOT / ".venv" / "bin" / "safetrain"


def _mask(text: str) -> str:
    today = dt.date.today()
    text = text.replace(str(RUN / "instance"), "<INSTANCE>").replace(str(ROOT), "<ROOT>")
    text = re.sub(r"用时 [\d.]+ 秒", "用时 <T> 秒", text)
    # a certificate's verification code is an HMAC with the instance's random secret
    text = re.sub(r"\b[0-9A-Z]{5}(-[0-9A-Z]{5}){3}\b", "<CODE>", text)
    text = re.sub(r"(生成时间[：:\s|]*)\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?", r"\1<NOW>", text)
    for day in (today, today - dt.timedelta(days=1)):  # a run across midnight
        text = re.sub(rf"{day.isoformat()}[ T]\d{{2}}:\d{{2}}(:\d{{2}})?", "<NOW>", text)
    return text


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SAFETRAIN_DB", "SAFETRAIN_HOME")}
    if not env.get("SAFETRAIN_COURSES"):
        sys.exit("set SAFETRAIN_COURSES to the pinned courses (see the module docstring)")
    # This checkout's packages first, whatever checkout the shared venv's editable install
    # points at.
    env.update(SAFETRAIN_HOME=str(RUN / "instance"), COLUMNS="140", LINES="50",
               TERM="dumb", NO_COLOR="1", PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    return env


def _cli_md() -> str:
    """docs/cli.md as rendered, without `safetrain hub` (issue #19 adds it meanwhile)."""
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c",
                          "from scripts.cli_docs import render; print(render(), end='')"],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, check=True)
    return re.sub(r"\n## `safetrain hub [^`]*`\n.*?(?=\n## `|\Z)", "", out.stdout, flags=re.S)


def _demo() -> tuple[str, str]:
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    runs = []
    for _ in range(2):
        done = subprocess.run([str(SAFETRAIN), "demo"], cwd=RUN, env=_env(),
                              capture_output=True, text=True)
        if done.returncode:
            sys.stderr.write(done.stderr[-4000:])
            sys.exit(f"safetrain demo exited {done.returncode}")
        runs.append(_mask(done.stdout))
    return runs[0], runs[1]


def _xlsx_cells(path: Path) -> str:
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=True)
    lines = []
    for ws in book.worksheets:
        lines.append(f"=== sheet {ws.title} ({ws.max_row}x{ws.max_column})")
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    lines.append(f"{cell.coordinate}\t{cell.value!r}")
    return _mask("\n".join(lines) + "\n")


def _pdf_text(path: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True)
    return _mask(done.stdout)


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.skip, self.parts = 0, []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def _html_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return _mask("\n".join(parser.parts) + "\n")


def snapshot(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (target / "cli.md").write_text(_cli_md(), encoding="utf-8")
    first, second = _demo()
    (target / "demo-1.txt").write_text(first, encoding="utf-8")
    (target / "demo-2.txt").write_text(second, encoding="utf-8")
    inst = RUN / "instance"
    for path in sorted(inst.rglob("*.xlsx")):
        if "imports" in path.parts:
            continue
        (target / f"xlsx-{_mask(path.name)}.txt").write_text(_xlsx_cells(path), encoding="utf-8")
    for path in sorted(inst.rglob("*.pdf")):
        (target / f"pdf-{_mask(path.name)}.txt").write_text(_pdf_text(path), encoding="utf-8")
    for path in sorted((inst / "reports").glob("*.html")):
        (target / f"html-{path.name}.txt").write_text(_html_text(path), encoding="utf-8")


def compare(golden: Path) -> int:
    now = golden / "now"
    shutil.rmtree(now, ignore_errors=True)
    snapshot(now)
    names = sorted({p.name for p in golden.glob("*.txt")} | {p.name for p in golden.glob("*.md")}
                   | {p.name for p in now.iterdir()})
    failed = 0
    for name in names:
        old, new = golden / name, now / name
        if not old.exists() or not new.exists():
            print(f"MISSING {name}: {'golden' if not old.exists() else 'now'} has none")
            failed += 1
            continue
        a, b = old.read_text(encoding="utf-8"), new.read_text(encoding="utf-8")
        if a == b:
            print(f"same    {name} ({len(a.splitlines())} lines)")
            continue
        failed += 1
        print(f"DIFFERS {name}")
        sys.stdout.writelines(difflib.unified_diff(a.splitlines(True), b.splitlines(True),
                                                   f"golden/{name}", f"now/{name}", n=1))
    print("golden compare:", "all equal" if not failed else f"{failed} file(s) differ")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["take", "compare"])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/golden"))
    args = parser.parse_args()
    if args.action == "take":
        snapshot(args.dir)
        print(f"golden snapshots in {args.dir}")
    else:
        sys.exit(compare(args.dir))


if __name__ == "__main__":
    main()
