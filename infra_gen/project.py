"""Where a project lives: environments/, templates/ and generated/ under one root."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import ConfigError, ProjectNotFoundError
from .loader import environment_files, load_environment
from .model import Environment


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The nearest directory, from start upward, with environments/ and templates/."""
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / "environments").is_dir() and (candidate / "templates").is_dir():
                return cls(candidate)
        raise ProjectNotFoundError(
            f"no project found: neither {here} nor a parent has environments/ and templates/ "
            "(use --root DIR)"
        )

    @property
    def environments_dir(self) -> Path:
        return self.root / "environments"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def generated_dir(self) -> Path:
        return self.root / "generated"

    @cached_property
    def environment_names(self) -> list[str]:
        return list(environment_files(self.environments_dir))

    def environment_path(self, name: str) -> Path:
        files = environment_files(self.environments_dir)
        if name not in files:
            raise ConfigError(
                f"unknown environment {name!r}; expected one of: {', '.join(files) or '(none)'} "
                f"(files in {self.environments_dir})"
            )
        return files[name]

    def load(self, name: str) -> Environment:
        return load_environment(self.environment_path(name))
