"""The errors kfp-gcp reports to a person: one or two lines, one exit code per kind.

Anything else that escapes a command is a bug and is reported as an internal error.
"""

from __future__ import annotations


class KfpGcpError(Exception):
    """Base class. `hint` says how to fix it; it is printed on a second line."""

    exit_code = 1
    label = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(KfpGcpError):
    """Bad input a person wrote: a parameter, a flag value, a settings file."""

    exit_code = 3
    label = "config error"


class ProjectError(KfpGcpError):
    """The repository does not follow the layout: a missing folder, file or object."""

    exit_code = 4
    label = "project error"


class CompileError(KfpGcpError):
    """One or more pipelines failed to import or compile."""

    exit_code = 5
    label = "compile error"


class RunError(KfpGcpError):
    """A run started but did not succeed."""

    exit_code = 6
    label = "run failed"


class PrerequisiteError(KfpGcpError):
    """Something the command needs is missing from this machine."""

    exit_code = 7
    label = "missing prerequisite"


class DestroyBlocked(KfpGcpError):
    """A Terraform plan would delete or replace data that nobody allowed it to."""

    exit_code = 8
    label = "destroy blocked"


class PublishError(KfpGcpError):
    """KFP refused or never answered while publishing, submitting or following a run."""

    exit_code = 9
    label = "publish failed"


class ToolError(KfpGcpError):
    """terraform, kubectl (kustomize) or gcloud failed; the message keeps the tool's words."""

    exit_code = 10
    label = "tool failed"


class ChecksFailed(KfpGcpError):
    """`doctor`: one or more live checks failed (the report says which, and what to do)."""

    exit_code = 11
    label = "checks failed"


INTERNAL_ERROR_EXIT_CODE = 1

# Documented in docs/cli.md; a test keeps the two in step.
EXIT_CODES: dict[str, int] = {
    "success": 0,
    "internal error": INTERNAL_ERROR_EXIT_CODE,
    "usage error": 2,  # click's own code for an unknown command, option or value
    **{cls.label: cls.exit_code for cls in KfpGcpError.__subclasses__()},
}
