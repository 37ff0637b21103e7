"""Command line for use outside GitHub Actions: `python3 -m kaniko_action DOCKERFILE IMAGE:TAG`.

In a terminal (GITHUB_ACTIONS not `true`) it prints plain lines, not workflow commands
(workflow/commands.py)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .build.run import run
from .spec.inputs import env_name


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m kaniko_action",
        description="Build a Dockerfile with kaniko in a disposable chroot and push the image "
        "(without a destination, or with --no-push, only build it).",
    )
    p.add_argument("dockerfile", nargs="?", help="Dockerfile, relative to the workspace")
    p.add_argument("image", nargs="?", help="destination IMAGE[:TAG]")
    p.add_argument("-c", "--context", help="build context directory")
    p.add_argument("-t", "--tag", action="append", default=[], help="destination (repeatable)")
    p.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--target", help="stage to build")
    p.add_argument("--no-push", action="store_true", help="build without pushing")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST:PORT")
    p.add_argument("--executor-dir", help="directory holding the kaniko executor")
    p.add_argument(
        "--workspace", default=".", help="directory paths are relative to (default: current)"
    )
    return p


def inputs_from_args(args: argparse.Namespace) -> dict[str, str]:
    tags = [*([args.image] if args.image else []), *args.tag]
    values: dict[str, str] = {
        "file": args.dockerfile or "",
        "context": args.context or "",
        "tags": "\n".join(tags),
        "build-args": "\n".join(args.build_arg),
        "labels": "\n".join(args.label),
        "target": args.target or "",
        # As the v2 script: a destination is pushed to.
        "push": "false" if args.no_push or not tags else "true",
        "insecure-registries": "\n".join(args.insecure_registry),
    }
    if args.executor_dir:
        values["executor-dir"] = args.executor_dir
    return values


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INPUT_")}
    env.update({env_name(k): v for k, v in inputs_from_args(args).items()})
    env["GITHUB_WORKSPACE"] = os.path.abspath(args.workspace)
    return run(env)


if __name__ == "__main__":
    sys.exit(main())
