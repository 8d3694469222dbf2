"""All mapped classes; importing this module registers every table on Base.metadata."""

from records.models.attempt import Attempt, AttemptStatus
from records.models.base import Base
from records.models.org import PATH_SEP, OrgUnit, UnitLevel
from records.models.person import Person, Post

__all__ = ["Attempt", "AttemptStatus", "Base", "OrgUnit", "PATH_SEP", "Person", "Post", "UnitLevel"]
