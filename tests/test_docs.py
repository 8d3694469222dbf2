"""The command reference is generated from the CLI and must not fall behind it."""

from scripts.cli_docs import DOC, all_commands, render


def test_every_command_has_help_text():
    missing = [path for path, command in all_commands() if not (command.help or "").strip()]
    assert missing == []


def test_docs_cli_md_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), "run `make docs` and commit docs/cli.md"
