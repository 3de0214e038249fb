"""Request and response shapes for projects and experiments."""

from pydantic import BaseModel, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$"


class Project(BaseModel):
    """A project: owns experiments, runs, datasets and (later) models."""

    id: str
    name: str
    description: str = ""
    created_by: str = ""
    created_at: int


class ProjectSummary(Project):
    """A project with counts, for listings."""

    experiments: int = 0
    runs: int = 0
    last_run_at: int | None = None


class Experiment(BaseModel):
    """A named group of runs inside a project."""

    id: str
    project_id: str
    name: str
    description: str = ""
    created_at: int


class CreateProject(BaseModel):
    """Body of ``POST /api/v1/projects``."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=10_000)


class CreateExperiment(BaseModel):
    """Body of ``POST /api/v1/projects/{project}/experiments``."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=10_000)
