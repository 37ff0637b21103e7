"""Build example/ into a throw-away local registry with kaniko-build and print the digest."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import executor_dir  # noqa: E402
from tests.support.images import push_busybox  # noqa: E402
from tests.support.registry import Registry  # noqa: E402


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="kaniko-build-demo-") as tmp,
        Registry.start(Path(tmp) / "registry") as registry,
    ):
        push_busybox(registry, "base/busybox", "latest")
        destination = registry.ref("demo/hello", "latest")
        env = dict(os.environ, RUNNER_TEMP=tmp)
        command = [
            sys.executable,
            "-m",
            "kaniko_action",
            "--workspace",
            str(ROOT / "example"),
            "--executor-dir",
            str(executor_dir("upstream")),
            "--insecure-registry",
            registry.host,
            "--build-arg",
            f"BASE={registry.ref('base/busybox', 'latest')}",
            "Dockerfile",
            destination,
        ]
        print("+", " ".join(command), flush=True)
        status = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        if status != 0:
            return status
        manifest = registry.client().get_manifest("demo/hello", "latest")
        files = registry.client().image_files("demo/hello", "latest")
        print(f"\n{destination} holds /srv/greeting.txt: {files['srv/greeting.txt'].text.strip()}")
        print(f"digest (from the registry): {manifest.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
