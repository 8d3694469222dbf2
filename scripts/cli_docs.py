"""Generate docs/cli.md from the command line itself (`make docs`; a test keeps it current)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer.main

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
HEADER = """# `safetrain` command reference

Generated from `safetrain --help` by `make docs` (`python -m scripts.cli_docs`);
`tests/test_docs.py` fails when a command is missing here or has no help text.
Every command also takes the global options `--home`, `--db` and `-v` before its name.
"""


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found = []
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):  # a group (Typer may bundle its own click)
            found += _commands(command, path)
        else:
            found.append((path, command))
    return found


def all_commands() -> list[tuple[str, click.Command]]:
    from scripts.cli import app

    return _commands(typer.main.get_command(app), "safetrain")


def _option_row(param: click.Parameter) -> str:
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    help_text = (getattr(param, "help", None) or "").replace("|", "\\|").replace("\n", " ")
    default = getattr(param, "default", None)
    shown = "" if default in (None, False, [], ()) or callable(default) else f" (默认 {default})"
    return f"| {names} | {help_text}{shown} |"


def render() -> str:
    parts = [HEADER]
    for path, command in all_commands():
        parts.append(f"\n## `{path}`\n")
        parts.append((command.help or "").strip() + "\n")
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
        usage = " ".join([path, *((a.metavar or a.name or "").upper() for a in arguments)])
        parts.append(f"\n```\n{usage}{' [OPTIONS]' if options else ''}\n```\n")
        if options:
            parts.append("\n| option | meaning |\n|---|---|")
            parts.extend(_option_row(o) for o in options)
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def main() -> None:
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
