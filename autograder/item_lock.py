"""Which items each module version holds: a fingerprint per module in `courses/items.lock.json`.

Each attempt records the module version it was taken on, so a version must name one set of
items. The fingerprint covers what decides a grade (each item's question, released answer cell,
test with its hidden part, and points). `check` reports a module whose items changed while its
version in `curriculum.yml` did not; `write` records the current state and refuses exactly that.

    python -m autograder.item_lock          # check
    python -m autograder.item_lock --write  # record after a version bump
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from autograder.naive import module_notebook, read_items
from records.curriculum import SOURCE_DIR, courses_dir, load_curriculum, source_module_ids

LOCK_NAME = "items.lock.json"


def fingerprint(module: str, courses: Path | None = None) -> str:
    digest = hashlib.sha256()
    for item in read_items(module_notebook(module, courses)):
        for part in (item.grade_id, item.question, item.answer, item.test, f"{item.points:g}"):
            digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def current(courses: Path | None = None) -> dict[str, dict[str, str]]:
    root = courses or courses_dir()
    versions = {m.id: m.version for m in load_curriculum(root / "curriculum.yml").modules}
    return {m: {"version": versions.get(m, ""), "items": fingerprint(m, root)}
            for m in source_module_ids(root / SOURCE_DIR)}


def recorded(courses: Path | None = None) -> dict[str, dict[str, str]]:
    path = (courses or courses_dir()) / LOCK_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def problems(courses: Path | None = None) -> list[str]:
    """Modules whose items changed under the same version, or whose lock entry is stale."""
    now, then = current(courses), recorded(courses)
    found = []
    for module, state in now.items():
        old = then.get(module)
        if old is None:
            found.append(f"{module}：还没有记录，请运行 python -m autograder.item_lock --write")
        elif old["items"] != state["items"] and old["version"] == state["version"]:
            found.append(f"{module}：题目改了，版本仍是 {state['version']}；"
                         "请先在 courses/curriculum.yml 里提高版本，再运行 --write")
        elif old != state:
            found.append(f"{module}：版本已改为 {state['version']}，请运行 "
                         "python -m autograder.item_lock --write 记录")
    found += [f"{m}：模块已不存在，请运行 --write" for m in then if m not in now]
    return found


def write(courses: Path | None = None) -> Path:
    """Record the current fingerprints; refuses items changed under an unchanged version."""
    blocking = [p for p in problems(courses) if "题目改了" in p]
    if blocking:
        raise SystemExit("\n".join(blocking))
    path = (courses or courses_dir()) / LOCK_NAME
    path.write_text(json.dumps(current(courses), ensure_ascii=False, indent=1, sort_keys=True)
                    + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.item_lock",
                                     description="检查每个模块版本对应的题目是否未被悄悄改动。")
    parser.add_argument("--write", action="store_true", help="记录当前各模块的题目指纹")
    args = parser.parse_args(argv)
    if args.write:
        print(f"已写入 {write()}")
        return 0
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
