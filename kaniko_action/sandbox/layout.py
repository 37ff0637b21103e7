"""Where things live inside the chroot. Pure path arithmetic, shared by staging and argv."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from ..spec.paths import BuildPaths

# kaniko's relocated directory (KANIKO_DIR). It is on kaniko's ignore list, so base-image
# extraction and stage cleanup leave it, and everything staged in it, alone.
KANIKO_DIR = PurePosixPath("/.kaniko-build")
# Injected files and directories that must survive base-image extraction; listed in the
# chroot's proc/self/mountinfo so kaniko treats them as mount points, and given to it as
# --ignore-path (see ignored_paths).
INJECTED = (
    PurePosixPath("/dev"),
    PurePosixPath("/proc"),
    PurePosixPath("/etc/resolv.conf"),
    PurePosixPath("/etc/hosts"),
    PurePosixPath("/etc/nsswitch.conf"),
    KANIKO_DIR,
)


def ignored_paths(extra: tuple[PurePosixPath, ...] = ()) -> tuple[PurePosixPath, ...]:
    """What the executor is told to leave alone with --ignore-path: the injected paths (and
    `extra`, files staged for credential helpers) other than KANIKO_DIR, which is on its own
    list. In namespaces of their own RUN steps see the real /proc/self/mountinfo, which lists
    only what is really mounted there (/proc, /dev/shm, ...)."""
    return tuple(p for p in (*INJECTED, *extra) if p != KANIKO_DIR)


LAYER_CACHE_NAME = "kaniko"


@dataclass(frozen=True)
class ChrootLayout:
    """Absolute paths as the executor sees them, inside the chroot."""

    kaniko_dir: PurePosixPath
    executor: PurePosixPath
    context_dir: PurePosixPath
    dockerfile: PurePosixPath
    docker_config_dir: PurePosixPath
    ca_bundle: PurePosixPath
    digest_file: PurePosixPath
    image_name_with_digest_file: PurePosixPath
    tar_path: PurePosixPath
    oci_layout: PurePosixPath
    cache_dir: PurePosixPath
    certs_dir: PurePosixPath
    # kaniko's layer cache for type=local: one OCI layout per cache key, which kaniko names
    # `<layer_cache_dir>/<LAYER_CACHE_NAME>:<key>`, next to the name it is given.
    layer_cache_dir: PurePosixPath

    @property
    def layer_cache_repo(self) -> str:
        return f"oci:{self.layer_cache_dir / LAYER_CACHE_NAME}"

    @property
    def cache_mounts_dir(self) -> PurePosixPath:
        """Where the maintained executor keeps `RUN --mount=type=cache` contents (its
        KanikoCacheDir), one directory per cache id (staging/cache_mounts.py)."""
        return self.kaniko_dir / "caches"

    @property
    def outputs_dir(self) -> PurePosixPath:
        return self.digest_file.parent

    @property
    def secrets_dir(self) -> PurePosixPath:
        """Where build secrets are staged: inside kaniko's own directory, which its snapshots
        and stage clean-ups leave alone."""
        return self.kaniko_dir / "secret-src"

    def secret_source(self, index: int) -> PurePosixPath:
        return self.secrets_dir / str(index)

    def registry_ca(self, index: int) -> PurePosixPath:
        return self.certs_dir / f"ca-{index}.pem"

    def client_cert(self, index: int) -> tuple[PurePosixPath, PurePosixPath]:
        return self.certs_dir / f"client-{index}.crt", self.certs_dir / f"client-{index}.key"


def chroot_layout(paths: BuildPaths) -> ChrootLayout:
    context_dir = KANIKO_DIR / "context"
    if paths.dockerfile_in_context:
        dockerfile = context_dir / paths.dockerfile.relative_to(paths.context).as_posix()
    else:
        dockerfile = KANIKO_DIR / "dockerfile" / paths.dockerfile.name
    out = KANIKO_DIR / "out"
    return ChrootLayout(
        kaniko_dir=KANIKO_DIR,
        executor=KANIKO_DIR / "executor",
        context_dir=context_dir,
        dockerfile=dockerfile,
        docker_config_dir=KANIKO_DIR / ".docker",
        ca_bundle=KANIKO_DIR / "ssl" / "certs" / "ca-certificates.crt",
        digest_file=out / "digest",
        image_name_with_digest_file=out / "image-name-with-digest",
        tar_path=out / "image.tar",
        oci_layout=out / "oci",
        cache_dir=KANIKO_DIR / "cache",
        certs_dir=KANIKO_DIR / "certs",
        layer_cache_dir=KANIKO_DIR / "layer-cache",
    )


def host_path(root: str, inside: PurePosixPath) -> str:
    """The runner path of a chroot path."""
    return root.rstrip("/") + str(inside)
