"""Gradebook → records, as an nbgrader export plugin.

    nbgrader export --exporter=autograder.export.RecordsExportPlugin [--to SAFETRAIN_DB_URL]

writes one attempt per graded submission into the records database (the one named by
`--to`, else SAFETRAIN_DB / the instance's SQLite). `safetrain grade` records attempts
itself as it goes; this plugin serves courses graded with stock `nbgrader autograde`.
Re-running it updates the same attempts (keyed by trainee, module and notebook hash).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins import ExportPlugin

from autograder.submissions import notebook_sha256
from records import db, grade_log
from records.attempts import AttemptFacts, record_attempt
from records.curriculum import courses_dir, load_curriculum
from records.instance import Instance
from records.models import AttemptStatus


class RecordsExportPlugin(ExportPlugin):
    """Export every graded submission as an attempt in SafeTrain's records."""

    def export(self, gradebook: Gradebook) -> None:
        instance = Instance.from_env()
        url = self.to or instance.db_url
        # Graded and regraded results (manual adjustments included) go into the event log.
        secret, anchor = grade_log.keys_for(instance)
        courses = courses_dir()
        curriculum = load_curriculum(courses / "curriculum.yml")
        wanted = {str(a) for a in self.assignment}
        students = {str(s) for s in self.student}
        count = 0
        with db.open_session(url) as session:
            for assignment in gradebook.assignments:
                if (wanted and assignment.name not in wanted) or assignment.name not in curriculum.module_ids:
                    continue
                module = curriculum.module(assignment.name)
                for submission in gradebook.assignment_submissions(assignment.name):
                    trainee = submission.student.id
                    if students and trainee not in students:
                        continue
                    if any(g.needs_manual_grade for nb in submission.notebooks for g in nb.grades):
                        self.log.warning("%s/%s 还有需要人工评分的题，未写入记录库", trainee, assignment.name)
                        continue
                    record_attempt(session, AttemptFacts(
                        trainee_id=trainee, module=assignment.name, module_version=module.version,
                        submission_sha256=self._sha(trainee, assignment.name, submission.timestamp),
                        score=float(submission.score), max_score=float(submission.max_score),
                        pass_mark=module.pass_mark, status=AttemptStatus.graded, problems=[],
                        submitted_at=_aware(submission.timestamp),
                        graded_at=dt.datetime.now(dt.UTC)), secret=secret, anchor=anchor)
                    count += 1
        self.log.info("已把 %d 次作答写入 SafeTrain 记录库", count)

    def _sha(self, trainee: str, module: str, timestamp: dt.datetime | None) -> str:
        """The submitted notebook's hash (as `safetrain grade` keys attempts), else the time's."""
        coursedir = getattr(self.parent, "coursedir", None)  # ExportApp is the parent
        folder = Path(coursedir.root if coursedir else ".") / "submitted" / trainee / module
        if folder.is_dir():
            return notebook_sha256(folder, module)
        return hashlib.sha256(f"{trainee}/{module}/{timestamp}".encode()).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value

