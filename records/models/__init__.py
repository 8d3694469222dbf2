"""All mapped classes; importing this module registers every table on Base.metadata."""

from records.models.admin import AdminScope
from records.models.attempt import Attempt, AttemptGrant, AttemptStatus
from records.models.base import Base
from records.models.cert import Certificate
from records.models.drill import (
    ActionStatus,
    Drill,
    DrillAction,
    DrillEvaluation,
    DrillForm,
    DrillParticipation,
    DrillRole,
    DrillScope,
    DrillType,
    drill_unit,
)
from records.models.event import Event, EventHead
from records.models.org import PATH_SEP, OrgUnit, UnitLevel
from records.models.person import Person, Post
from records.models.training import Attendance, TrainingAttendance, TrainingKind, TrainingSession

__all__ = [
    "ActionStatus", "AdminScope", "Attempt", "AttemptGrant", "AttemptStatus", "Attendance", "Base",
    "Certificate", "Drill", "DrillAction", "DrillEvaluation", "DrillForm", "DrillParticipation",
    "DrillRole", "DrillScope", "DrillType", "Event", "EventHead", "OrgUnit", "PATH_SEP", "Person", "Post",
    "TrainingAttendance", "TrainingKind", "TrainingSession", "UnitLevel", "drill_unit",
]
