"""Where an instance's files live: every path derives from SAFETRAIN_HOME (default ./instance)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "SAFETRAIN_HOME"
DB_ENV = "SAFETRAIN_DB"
DEFAULT_HOME = "instance"
DB_FILENAME = "safetrain.db"
# A deployment's records URL, password included, kept in a private file in the instance
# (`safetrain hub init` writes it, 0600): never in a command line or an environment.
DB_URL_FILENAME = "db.url"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


@dataclass(frozen=True)
class Instance:
    """One deployment: records database, nbgrader working folders, reports."""

    home: Path
    db_url: str

    @classmethod
    def from_env(cls, home: str | Path | None = None, db_url: str | None = None) -> Instance:
        """Build from arguments, else SAFETRAIN_HOME / SAFETRAIN_DB, else the instance's
        `db.url` file, else ./instance + SQLite."""
        home_path = Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve()
        url = db_url or os.environ.get(DB_ENV) or _url_file(home_path) \
            or f"sqlite:///{home_path / DB_FILENAME}"
        return cls(home=home_path, db_url=url)

    @property
    def course_dir(self) -> Path:
        """nbgrader course root: release/, submitted/, autograded/, feedback/, gradebook.db."""
        return self.home / "course"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def imports_dir(self) -> Path:
        """Copies of rejected rows and demo rosters."""
        return self.home / "imports"

    @property
    def secret_file(self) -> Path:
        return self.home / "secret.key"

    def create_dirs(self) -> None:
        """The instance's folders, owner-only (0700): full ID numbers live in here. Existing
        folders are made so too, so `safetrain init` closes an older, readable instance."""
        for path in (self.home, self.course_dir, self.reports_dir, self.imports_dir):
            path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            path.chmod(PRIVATE_DIR)
        if self.secret_file.exists():
            private(self.secret_file)

    def initialise(self) -> tuple[str | None, str]:
        """Make the folders and a random secret.key (0600) if missing, migrate the database
        with that secret (the event log's genesis needs it) and anchor the event log.
        Returns the revision before and after; safe to run again (`safetrain init`, the demo)."""
        import secrets

        self.create_dirs()
        if not self.secret_file.exists():
            self.secret_file.write_text(secrets.token_hex(32))
            private(self.secret_file)
        return self.upgrade()

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate the database to head (with the secret when there is one), then anchor."""
        from records import db
        from records.cert_codes import load_secret
        from records.event_log import anchor_if_missing, anchor_path

        secret = load_secret(self.secret_file) if self.secret_file.exists() else None
        engine = db.make_engine(self.db_url)
        try:
            before, after = db.upgrade(engine, secret=secret)
            with db.session_factory(engine).begin() as session:
                anchor_if_missing(session, anchor_path(self.home))
        finally:
            engine.dispose()
        return before, after


def _url_file(home: Path) -> str | None:
    try:
        return (home / DB_URL_FILENAME).read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None


def private(path: Path) -> Path:
    """Make a file we wrote (a report, a rejects file, the secret) owner-only: 0600."""
    path.chmod(PRIVATE_FILE)
    return path
