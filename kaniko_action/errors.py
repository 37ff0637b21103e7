"""Exceptions that end a build with a message meant for the user."""

from __future__ import annotations


class ActionError(Exception):
    """A failure the user can act on; its message is shown as an error annotation."""

    title = "kaniko-build"
    # True for an error naming something the machine the step runs on lacks (root, sudo,
    # capabilities, the executor): in a job container, that machine is the container.
    lacks_on_runner = False


class InputError(ActionError):
    """An input has a value the action cannot use."""

    title = "Invalid input"

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"input '{name}': {message}")
        self.input_name = name


class SandboxError(ActionError):
    """The chroot could not be prepared or cleaned up."""

    title = "Sandbox"


class RunnerLacks(SandboxError):
    """The machine the step runs on lacks a capability or the executor."""

    lacks_on_runner = True


class BuildFailed(ActionError):
    """kaniko ran and reported a failure."""

    title = "Build failed"

    def __init__(
        self,
        message: str,
        *,
        instruction: str | None = None,
        stage: int | None = None,
        pushing: bool = False,
    ) -> None:
        super().__init__(message)
        self.instruction = instruction
        self.stage = stage
        self.pushing = pushing
        # What the build still told before failing, for the report (build/single.py).
        self.details: object = None


class RunnerError(ActionError):
    """The runner cannot run this build (a platform it cannot emulate, say): a property of
    the machine, not of the inputs."""

    title = "Runner"


class Cancelled(ActionError):
    """The run received SIGINT or SIGTERM."""

    title = "Cancelled"

    def __init__(self, signum: int) -> None:
        super().__init__(f"cancelled by signal {signum}")
        self.signum = signum
