"""Project memberships: who holds which role where."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import delete, select

from modelyard.access.roles import Role
from modelyard.access.tables import project_members
from modelyard.audit.record import record_change
from modelyard.core.db import Database
from modelyard.core.errors import InvalidArgument, NotFound
from modelyard.core.ids import now_ms
from modelyard.core.sql import insert_for
from modelyard.identity.tables import users
from modelyard.projects.service import ProjectService


class Member(BaseModel):
    """A user's role in a project."""

    user: str
    role: Role
    added_by: str
    added_at: int


class AccessService:
    """Add, change and remove project members."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.projects = ProjectService(db)

    def set_member(self, *, project: str, user: str, role: str, actor: str) -> Member:
        """Give ``user`` a role in ``project`` (replacing any role they had)."""
        try:
            role_ = Role(role)
        except ValueError:
            raise InvalidArgument(
                f"Role {role!r} is not one of: {', '.join(r.value for r in Role)}."
            ) from None
        proj = self.projects.get_project(project)
        with self.db.write() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.name == user)).scalar()
            if user_id is None:
                raise NotFound(f"No user named {user!r}.")
            stmt = insert_for(conn, project_members)
            conn.execute(
                stmt.values(
                    project_id=proj.id, user_id=user_id, role=role_.value, added_by=actor, added_at=now_ms()
                ).on_conflict_do_update(
                    index_elements=["project_id", "user_id"],
                    set_={"role": stmt.excluded.role, "added_by": stmt.excluded.added_by},
                )
            )
            record_change(
                conn,
                type="project.member_set",
                project_id=proj.id,
                subject_type="project",
                subject_id=proj.id,
                actor=actor,
                payload={"user": user, "role": role_.value},
            )
        return next(m for m in self.list_members(project=project) if m.user == user)

    def remove_member(self, *, project: str, user: str, actor: str) -> None:
        """Take ``user`` out of ``project``."""
        proj = self.projects.get_project(project)
        with self.db.write() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.name == user)).scalar()
            gone = conn.execute(
                delete(project_members).where(
                    project_members.c.project_id == proj.id, project_members.c.user_id == user_id
                )
            ).rowcount
            if not gone:
                raise NotFound(f"{user!r} is not a member of {proj.name!r}.")
            record_change(
                conn,
                type="project.member_removed",
                project_id=proj.id,
                subject_type="project",
                subject_id=proj.id,
                actor=actor,
                payload={"user": user},
            )

    def list_members(self, *, project: str) -> list[Member]:
        """A project's members, by name."""
        proj = self.projects.get_project(project)
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    users.c.name,
                    project_members.c.role,
                    project_members.c.added_by,
                    project_members.c.added_at,
                )
                .join(users, users.c.id == project_members.c.user_id)
                .where(project_members.c.project_id == proj.id)
                .order_by(users.c.name)
            ).all()
        return [
            Member(user=r.name, role=Role(r.role), added_by=r.added_by, added_at=r.added_at) for r in rows
        ]

    def project_ids_of(self, user_id: str) -> set[str]:
        """The projects a user belongs to."""
        with self.db.read() as conn:
            return set(
                conn.execute(
                    select(project_members.c.project_id).where(project_members.c.user_id == user_id)
                ).scalars()
            )
