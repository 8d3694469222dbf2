"""The six roles of grassroots safety staff, with Chinese labels and the names rosters use."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    principal_leader = "principal_leader"
    deputy_leader = "deputy_leader"
    inspector = "inspector"
    grid_worker = "grid_worker"
    staff = "staff"
    volunteer = "volunteer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def is_leader(self) -> bool:
        return self in (Role.principal_leader, Role.deputy_leader)


ROLE_LABELS: dict[Role, str] = {
    Role.principal_leader: "主要领导",
    Role.deputy_leader: "分管领导",
    Role.inspector: "专职安监员",
    Role.grid_worker: "网格员",
    Role.staff: "工作人员",
    Role.volunteer: "志愿者",
}

# Words people write in a 角色/岗位/职务 column, beyond the labels and keys themselves.
_ALIASES: dict[str, Role] = {
    "主要负责人": Role.principal_leader,
    "主要负责同志": Role.principal_leader,
    "一把手": Role.principal_leader,
    "分管负责人": Role.deputy_leader,
    "分管领导同志": Role.deputy_leader,
    "安监员": Role.inspector,
    "专职安全员": Role.inspector,
    "专职安全监管员": Role.inspector,
    "安全监管员": Role.inspector,
    "网格管理员": Role.grid_worker,
    "专职网格员": Role.grid_worker,
    "兼职网格员": Role.grid_worker,
    "社区工作者": Role.staff,
    "社工": Role.staff,
    "应急志愿者": Role.volunteer,
    "leader": Role.principal_leader,
    "principal": Role.principal_leader,
    "deputy": Role.deputy_leader,
    "grid": Role.grid_worker,
}


_LOOKUP: dict[str, Role] = {
    **_ALIASES,
    **{role.value: role for role in Role},
    **{label: role for role, label in ROLE_LABELS.items()},
}


def parse_role(text: str) -> Role:
    """Role from a roster cell; raises ValueError naming the accepted values."""
    role = _LOOKUP.get(text.strip().lower().replace(" ", ""))
    if role is not None:
        return role
    accepted = "、".join(ROLE_LABELS.values())
    raise ValueError(f"未知角色「{text}」，应为：{accepted}")
