"""Business rules for projects and experiments."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from modelyard.audit.record import record_change
from modelyard.core.db import Database
from modelyard.core.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.core.ids import new_id, now_ms
from modelyard.projects.schemas import NAME_PATTERN, Experiment, Project, ProjectSummary
from modelyard.projects.tables import experiments, projects
from modelyard.tracking.tables import runs

_NAME = re.compile(NAME_PATTERN)


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"{kind} name {name!r} is not valid: 1-200 characters of letters, digits, spaces and _ . -, "
            "starting with a letter or digit."
        )
    return name


class ProjectService:
    """Create, find and list projects and their experiments."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_project(
        self, *, name: str, description: str = "", created_by: str = "", owner_user_id: str | None = None
    ) -> Project:
        """Create a project; its name must be unused. ``owner_user_id`` becomes its owner."""
        _check_name("Project", name)
        row = {
            "id": new_id(),
            "name": name,
            "description": description,
            "created_by": created_by,
            "created_at": now_ms(),
        }
        try:
            with self.db.write() as conn:
                conn.execute(projects.insert().values(**row))
                record_change(
                    conn,
                    type="project.created",
                    project_id=row["id"],
                    subject_type="project",
                    subject_id=row["id"],
                    actor=created_by,
                    payload={"name": name},
                )
                if owner_user_id is not None:
                    from modelyard.access.tables import project_members

                    conn.execute(
                        project_members.insert().values(
                            project_id=row["id"],
                            user_id=owner_user_id,
                            role="owner",
                            added_by=created_by,
                            added_at=row["created_at"],
                        )
                    )
        except IntegrityError as exc:
            raise AlreadyExists(f"A project named {name!r} already exists.") from exc
        return Project(**row)

    def get_project(self, ref: str) -> Project:
        """A project by name or id."""
        with self.db.read() as conn:
            row = (
                conn.execute(select(projects).where((projects.c.name == ref) | (projects.c.id == ref)))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"No project named {ref!r}.")
        return Project(**row)

    def get_or_create_project(
        self, *, name: str, created_by: str = "", owner_user_id: str | None = None
    ) -> Project:
        """The named project, created on first use (with ``owner_user_id`` as its owner)."""
        try:
            return self.get_project(name)
        except NotFound:
            try:
                return self.create_project(name=name, created_by=created_by, owner_user_id=owner_user_id)
            except AlreadyExists:  # another process created it in between
                return self.get_project(name)

    def list_projects(self, *, only: set[str] | None = None) -> list[ProjectSummary]:
        """All projects (or those whose ids are in ``only``) with experiment and run counts."""
        exp_counts = (
            select(experiments.c.project_id, func.count().label("n"))
            .group_by(experiments.c.project_id)
            .subquery()
        )
        run_counts = (
            select(runs.c.project_id, func.count().label("n"), func.max(runs.c.start_time).label("last"))
            .where(runs.c.deleted.is_(False))
            .group_by(runs.c.project_id)
            .subquery()
        )
        stmt = (
            select(
                projects,
                exp_counts.c.n.label("experiments"),
                run_counts.c.n.label("runs"),
                run_counts.c.last.label("last_run_at"),
            )
            .outerjoin(exp_counts, exp_counts.c.project_id == projects.c.id)
            .outerjoin(run_counts, run_counts.c.project_id == projects.c.id)
            .order_by(projects.c.name)
        )
        if only is not None:
            stmt = stmt.where(projects.c.id.in_(only))
        with self.db.read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [
            ProjectSummary(**{**r, "experiments": r["experiments"] or 0, "runs": r["runs"] or 0})
            for r in rows
        ]

    def create_experiment(self, *, project: str, name: str, description: str = "") -> Experiment:
        """Create an experiment in a project; its name must be unused there."""
        _check_name("Experiment", name)
        proj = self.get_project(project)
        row = {
            "id": new_id(),
            "project_id": proj.id,
            "name": name,
            "description": description,
            "created_at": now_ms(),
        }
        try:
            with self.db.write() as conn:
                conn.execute(experiments.insert().values(**row))
                record_change(
                    conn,
                    type="experiment.created",
                    project_id=proj.id,
                    subject_type="experiment",
                    subject_id=row["id"],
                    actor="",
                    payload={"name": name},
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"Project {proj.name!r} already has an experiment named {name!r}.") from exc
        return Experiment(**row)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """An experiment by id."""
        with self.db.read() as conn:
            row = (
                conn.execute(select(experiments).where(experiments.c.id == experiment_id)).mappings().first()
            )
        if row is None:
            raise NotFound(f"No experiment with id {experiment_id!r}.")
        return Experiment(**row)

    def find_experiment(self, *, project: str, name: str) -> Experiment:
        """An experiment by project and name."""
        proj = self.get_project(project)
        with self.db.read() as conn:
            row = (
                conn.execute(
                    select(experiments).where(experiments.c.project_id == proj.id, experiments.c.name == name)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"Project {proj.name!r} has no experiment named {name!r}.")
        return Experiment(**row)

    def get_or_create_experiment(self, *, project: str, name: str) -> Experiment:
        """The named experiment, created on first use."""
        try:
            return self.find_experiment(project=project, name=name)
        except NotFound:
            try:
                return self.create_experiment(project=project, name=name)
            except AlreadyExists:
                return self.find_experiment(project=project, name=name)

    def list_experiments(self, *, project: str) -> list[Experiment]:
        """A project's experiments, by name."""
        proj = self.get_project(project)
        with self.db.read() as conn:
            rows = (
                conn.execute(
                    select(experiments)
                    .where(experiments.c.project_id == proj.id)
                    .order_by(experiments.c.name)
                )
                .mappings()
                .all()
            )
        return [Experiment(**r) for r in rows]
