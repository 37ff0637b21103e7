"""Table tests of the pure layer: raw inputs -> BuildSpec -> executor argv and environment."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from kaniko_action.errors import InputError
from kaniko_action.executor.argv import executor_invocation, executor_passthrough
from kaniko_action.sandbox.layout import chroot_layout, ignored_paths
from kaniko_action.spec.build_spec import BuildSpec, build_spec
from kaniko_action.spec.inputs import DEFAULTS

KD = "/.kaniko-build"
FIXED = [
    f"{KD}/executor",
    f"--dockerfile={KD}/context/Dockerfile",
    f"--context=dir://{KD}/context",
    "--force",
]
DIGESTS = [
    f"--digest-file={KD}/out/digest",
    f"--image-name-with-digest-file={KD}/out/image-name-with-digest",
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Dockerfile.prd").write_text("FROM scratch\n")
    return tmp_path


def invocation(ws: Path, **inputs: str) -> tuple[list[str], dict[str, str]]:
    raw = dict(DEFAULTS)
    raw.update({k.replace("_", "-"): v for k, v in inputs.items()})
    spec = build_spec(raw, str(ws))
    inv = executor_invocation(spec, chroot_layout(spec.paths))
    return list(inv.argv), inv.env


@pytest.mark.parametrize(
    ("inputs", "expected_tail"),
    [
        ({"image": "reg:5000/app"}, ["--destination=reg:5000/app:latest", *DIGESTS]),
        ({"image": "reg:5000/app", "tag": "v2"}, ["--destination=reg:5000/app:v2", *DIGESTS]),
        (
            {"tags": "reg/a:1,reg/a:2\nreg/a:3", "image": "reg/a", "tag": "1", "push": "true"},
            ["--destination=reg/a:1", "--destination=reg/a:2", "--destination=reg/a:3", *DIGESTS],
        ),
        ({"push": "false"}, ["--no-push"]),
        ({"push": "false", "tags": "r/a:1"}, ["--destination=r/a:1", *DIGESTS, "--no-push"]),
        (
            {"tags": "r/a:1", "target": "builder", "push": "true"},
            ["--destination=r/a:1", *DIGESTS, "--target=builder"],
        ),
        (
            {
                "tags": "r/a:1",
                "labels": "org.opencontainers.image.title=My App\na=b=c",
                "push": "true",
            },
            [
                "--destination=r/a:1",
                *DIGESTS,
                "--label=org.opencontainers.image.title=My App",
                "--label=a=b=c",
            ],
        ),
        (
            {
                "tags": "r/a:1",
                "insecure_registries": "localhost:5000, 127.0.0.1:9\n",
                "push": "true",
            },
            [
                "--destination=r/a:1",
                *DIGESTS,
                "--insecure-registry=localhost:5000",
                "--insecure-registry=127.0.0.1:9",
            ],
        ),
    ],
)
def test_argv_table(ws: Path, inputs: dict[str, str], expected_tail: list[str]) -> None:
    argv, _ = invocation(ws, **inputs)
    assert argv == FIXED + expected_tail


OUT = f"{KD}/out"
DEST = ["--destination=r/a:1", *DIGESTS]


@pytest.mark.parametrize(
    ("inputs", "extra"),
    [
        ({"cache": "true"}, ["--cache=true"]),
        ({"cache": "true", "cache_repo": "r/cache"}, ["--cache=true", "--cache-repo=r/cache"]),
        ({"cache": "true", "cache_repository": "r/c2"}, ["--cache=true", "--cache-repo=r/c2"]),
        ({"cache": "true", "cache_ttl": "168h"}, ["--cache=true", "--cache-ttl=168h"]),
        ({"cache_repo": "r/cache"}, []),
        # cache-from alone: kaniko reads the cache and writes nothing there.
        (
            {"cache_from": "type=registry,ref=r/bc:x"},
            ["--cache=true", "--cache-repo=r/bc", "--no-push-cache"],
        ),
        (
            {"cache_from": "type=registry,ref=r/bc:x", "cache_to": "type=registry,ref=r/bc:x"},
            ["--cache=true", "--cache-repo=r/bc"],
        ),
        ({"cache_from": "r/bc:x", "cache": "true"}, ["--cache=true", "--cache-repo=r/bc"]),
        # ignore-error=true while pushing: a failed cache upload is only kaniko's warning.
        (
            {"cache_to": "type=registry,ref=r/bc,ignore-error=true"},
            ["--cache=true", "--cache-repo=r/bc"],
        ),
        # Entries kaniko cannot honour build without the cache (and warn).
        ({"cache_from": "type=gha", "cache_to": "type=gha,mode=max"}, []),
        # type=local: kaniko's cache in the chroot, copied in from src= and out to dest=,
        # with the base images kept beside it in kaniko's base-image cache.
        (
            {"cache_from": "type=local,src=c", "cache_to": "type=local,dest=c"},
            [
                "--cache=true",
                "--cache-repo=oci:/.kaniko-build/layer-cache/kaniko",
                "--cache-dir=/.kaniko-build/cache",
            ],
        ),
        (
            {"cache_from": "type=local,src=/tmp/c"},
            [
                "--cache=true",
                "--cache-repo=oci:/.kaniko-build/layer-cache/kaniko",
                "--no-push-cache",
                "--cache-dir=/.kaniko-build/cache",
            ],
        ),
        # A dest that may not be written (it holds the workspace): read only, with a warning.
        (
            {"cache_to": "type=local,dest=.", "cache_from": "type=local,src=c"},
            [
                "--cache=true",
                "--cache-repo=oci:/.kaniko-build/layer-cache/kaniko",
                "--no-push-cache",
                "--cache-dir=/.kaniko-build/cache",
            ],
        ),
        ({"cache_to": "type=local,dest=c", "cache_repo": "r/bc"}, "error"),
        ({"cache_to": "type=inline"}, []),
        ({"cache_from": "type=s3,bucket=b", "cache_to": "type=azblob,name=x"}, []),
        # no-cache-filters: the whole image uncached.
        ({"no_cache_filters": "test", "cache_from": "r/bc", "cache_to": "r/bc"}, []),
        ({"no_cache_filters": "test", "cache": "true"}, []),
        ({"cache": "true", "no_cache": "true", "cache_ttl": "1h"}, "error"),
        ({"no_cache": "true"}, []),
        (
            {"registry_mirrors": "mirror.gcr.io\nm2:5000/dh"},
            ["--registry-mirror=mirror.gcr.io", "--registry-mirror=m2:5000/dh"],
        ),
        (
            {"skip_tls_verify_registries": "a:1,b"},
            ["--skip-tls-verify-registry=a:1", "--skip-tls-verify-registry=b"],
        ),
        ({"platform": "linux/arm64"}, ["--custom-platform=linux/arm64"]),
        ({"platforms": "linux/arm/v7"}, ["--custom-platform=linux/arm/v7"]),
        (
            {"platform": "linux/arm64", "platforms": "linux/arm64"},
            ["--custom-platform=linux/arm64"],
        ),
        ({"reproducible": "true"}, ["--reproducible"]),
        ({"reproducible": "false"}, []),
        ({"snapshot_mode": "redo"}, ["--snapshot-mode=redo"]),
        ({"snapshot_mode": "full"}, ["--snapshot-mode=full"]),
        ({"use_new_run": "true"}, ["--use-new-run"]),
        ({"single_snapshot": "true"}, ["--single-snapshot"]),
        ({"single_snapshot": "false"}, []),
        ({"push_retry": "3"}, ["--push-retry=3"]),
        ({"verbosity": "debug"}, ["--verbosity=debug"]),
        ({"verbosity": "info"}, []),
        ({"tar_path": "out/image.tar"}, [f"--tar-path={OUT}/image.tar"]),
        ({"oci_layout_path": "out/oci"}, [f"--oci-layout-path={OUT}/oci"]),
        (
            {
                "kaniko_args": "--skip-unused-stages\n--image-fs-extract-retry=2\n--ignore-path /var/cache"
            },
            ["--skip-unused-stages", "--image-fs-extract-retry=2", "--ignore-path", "/var/cache"],
        ),
        ({"add_hosts": "db:10.0.0.5"}, []),
        ({"summary": "false"}, []),
        ({"builder": "x", "pull": "true", "provenance": "false"}, []),
    ],
)
def test_argv_for_every_input(ws: Path, inputs: dict[str, str], extra: list[str] | str) -> None:
    if extra == "error":
        with pytest.raises(InputError):
            invocation(ws, tags="r/a:1", push="true", **inputs)
        return
    argv, _ = invocation(ws, tags="r/a:1", push="true", **inputs)
    assert argv == FIXED + DEST + list(extra)


# build-push-action builds without pushing unless `push: true` or `outputs` says so; only
# the v2 interface (`image`, no `tags`) pushes by default. "" is what the runner passes for
# a `push` the step leaves out.
PUSHED = ["--destination=r/a:1", *DIGESTS]
NOT_PUSHED = [*PUSHED, "--no-push"]
V2 = ["--destination=r/a:latest", *DIGESTS]


@pytest.mark.parametrize(
    ("inputs", "tail", "told"),
    [
        ({"tags": "r/a:1"}, NOT_PUSHED, True),
        ({"tags": "r/a:1", "push": ""}, NOT_PUSHED, True),
        ({"tags": "r/a:1", "push": "true"}, PUSHED, False),
        ({"tags": "r/a:1", "push": "false"}, NOT_PUSHED, False),
        ({}, ["--no-push"], False),
        ({"context": "sub"}, ["--no-push"], False),
        ({"image": "r/a"}, V2, False),
        ({"image": "r/a", "tag": "v2"}, ["--destination=r/a:v2", *DIGESTS], False),
        ({"image": "r/a", "push": "false"}, [*V2, "--no-push"], False),
        # `tags` is build-push-action's interface, whose default wins.
        ({"image": "r/a", "tags": "r/a:1"}, ["--destination=r/a:1", *V2, "--no-push"], True),
        ({"tags": "r/a:1", "outputs": "type=registry"}, PUSHED, False),
        ({"outputs": "type=image,name=r/a:1,push=true"}, PUSHED, False),
        (
            {"tags": "r/a:1", "outputs": "type=oci,dest=o.tar"},
            [*NOT_PUSHED, f"--oci-layout-path={KD}/out/oci"],
            False,
        ),
        # `push: true` adds a push to `outputs` that do not push, as buildx's --push does.
        (
            {"tags": "r/a:1", "push": "true", "outputs": "type=local,dest=out"},
            [*PUSHED, f"--oci-layout-path={KD}/out/oci"],
            False,
        ),
        (
            {"tags": "r/a:1", "push": "true", "outputs": "type=docker,dest=i.tar"},
            [*PUSHED, f"--tar-path={KD}/out/image.tar"],
            False,
        ),
        ({"tags": "r/a:1", "push": "true", "outputs": "type=cacheonly"}, PUSHED, False),
        ({"push": "true", "outputs": "type=image,name=r/a:1"}, PUSHED, False),
        (
            {"tags": "r/a:1", "push": "false", "outputs": "type=local,dest=out"},
            [*NOT_PUSHED, f"--oci-layout-path={KD}/out/oci"],
            False,
        ),
    ],
)
def test_push_default_follows_the_interface(
    ws: Path, inputs: dict[str, str], tail: list[str], told: bool
) -> None:
    argv, _ = invocation(ws, **inputs)
    assert argv == FIXED + tail
    notices = spec_of(ws, **inputs).notices
    assert bool(notices) is told
    if told:
        assert notices == (
            "nothing is pushed: 'push' is not set, and as in docker/build-push-action it "
            "defaults to false; set 'push: true' to push",
        )


@pytest.mark.parametrize(
    ("inputs", "extra"),
    [
        # Without a push kaniko checks at start that it may push to the cache repository;
        # with ignore-error=true that check must not fail the build.
        (
            {"cache_to": "type=registry,ref=r/bc,ignore-error=true"},
            ["--cache=true", "--cache-repo=r/bc", "--skip-push-permission-check"],
        ),
        (
            {"cache_to": "type=registry,ref=r/bc,ignore-error=false"},
            ["--cache=true", "--cache-repo=r/bc"],
        ),
        ({"cache_from": "r/bc"}, ["--cache=true", "--cache-repo=r/bc", "--no-push-cache"]),
    ],
)
def test_cache_flags_without_a_push(ws: Path, inputs: dict[str, str], extra: list[str]) -> None:
    argv, _ = invocation(ws, tags="r/a:1", push="false", **inputs)
    assert argv == FIXED + DEST + ["--no-push", *extra]


@pytest.mark.parametrize(
    ("inputs", "warned", "noticed"),
    [
        ({"cache_from": "type=gha,token=ghs_x", "cache_to": "type=gha"}, 2, 0),
        ({"cache_to": "type=s3,secret_access_key=abc"}, 1, 0),
        ({"no_cache_filters": "deps"}, 0, 1),
        ({"cache_from": "type=registry,ref=r/bc"}, 0, 0),
    ],
)
def test_cache_inputs_warn_and_notice_instead_of_failing(
    ws: Path, inputs: dict[str, str], warned: int, noticed: int
) -> None:
    spec = spec_of(ws, tags="r/a:1", push="true", **inputs)
    assert (len(spec.warnings), len(spec.notices)) == (warned, noticed)
    assert not any("ghs_x" in w or "abc" in w for w in spec.warnings)


def test_cache_dir_is_staged_inside_the_chroot(ws: Path) -> None:
    (ws / "warm").mkdir()
    argv, _ = invocation(ws, tags="r/a:1", cache_dir="warm")
    assert argv[-1] == f"--cache-dir={KD}/cache"


@pytest.mark.parametrize(
    ("inputs", "warned"),
    [
        ({}, True),
        ({"cache": "true"}, False),
        ({"cache_from": "type=registry,ref=r/bc"}, False),
        ({"cache_from": "type=local,src=c"}, False),
        ({"cache_from": "type=registry,ref=r/bc", "no_cache": "true"}, True),
    ],
)
def test_cache_dir_without_the_layer_cache_is_a_warning(
    ws: Path, inputs: dict[str, str], warned: bool
) -> None:
    """kaniko reads --cache-dir only with --cache: without it, every base image is pulled."""
    (ws / "warm").mkdir()
    spec = spec_of(ws, tags="r/a:1", cache_dir="warm", **inputs)
    found = [w for w in spec.warnings if w.startswith("input 'cache-dir': ")]
    assert bool(found) == warned, spec.warnings


def spec_of(ws: Path, **inputs: str) -> BuildSpec:
    raw = dict(DEFAULTS)
    raw.update({k.replace("_", "-"): v for k, v in inputs.items()})
    return build_spec(raw, str(ws))


def test_spec_fields(ws: Path) -> None:
    spec = spec_of(
        ws,
        tags="r/a:1",
        add_hosts="db:10.0.0.5, cache.local=fd00::1",
        tar_path="o/i.tar",
        builder="b",
    )
    assert spec.add_hosts == (("db", "10.0.0.5"), ("cache.local", "fd00::1"))
    assert spec.tar_path == ws / "o" / "i.tar"
    assert spec.warnings == ("input 'builder' has no effect: kaniko has no builder instances",)


STALE = "can keep a file's old content in the image"


@pytest.mark.parametrize(
    ("inputs", "warned"),
    [
        ({"snapshot_mode": "redo"}, "input 'snapshot-mode': 'redo' "),
        ({"snapshot_mode": "time"}, "input 'snapshot-mode': 'time' "),
        ({"use_new_run": "true"}, "input 'use-new-run': "),
        ({"snapshot_mode": "full"}, None),
        ({"use_new_run": "false"}, None),
        ({"single_snapshot": "true"}, None),
        ({}, None),
    ],
)
def test_snapshot_settings_that_can_miss_a_change_warn(
    ws: Path, inputs: dict[str, str], warned: str | None
) -> None:
    """redo, time and the new RUN implementation tell a changed file by its metadata alone:
    never a default, and a warning with the reason when asked for."""
    warnings = [w for w in spec_of(ws, tags="r/a:1", **inputs).warnings if STALE in w]
    if warned is None:
        assert warnings == []
    else:
        (warning,) = warnings
        assert warning.startswith(warned)
        assert "restores its modification time" in warning


def test_snapshot_defaults_are_kanikos_own() -> None:
    assert DEFAULTS["snapshot-mode"] == ""
    assert DEFAULTS["use-new-run"] == "false"
    assert DEFAULTS["single-snapshot"] == "false"


def test_work_dir_is_resolved_and_kept_out_of_the_workspace(ws: Path) -> None:
    fast = ws.parent / "fast"
    fast.mkdir()
    assert spec_of(ws, tags="r/a:1").work_dir is None
    assert spec_of(ws, tags="r/a:1", work_dir="../fast").work_dir == fast
    with pytest.raises(InputError, match=r"^input 'work-dir': .*inside the workspace"):
        spec_of(ws, tags="r/a:1", work_dir="sub")
    with pytest.raises(InputError, match="inside a kaniko-build work directory"):
        build_spec(
            {**DEFAULTS, "tags": "r/a:1", "work-dir": str(fast),
             "tar-path": f"{fast}/kaniko-build-1/i.tar"},
            str(ws),
            str(ws.parent),
        )  # fmt: skip


def test_login_and_certificates(ws: Path) -> None:
    (ws / "ca.pem").write_text("ca")
    (ws / "c.crt").write_text("c")
    (ws / "c.key").write_text("k")
    spec = spec_of(
        ws,
        tags="reg.example.com:8443/team/app:1",
        username="me",
        password="pw",
        registry_certificates="reg.example.com:8443=ca.pem",
        registry_client_certs="reg.example.com:8443=c.crt, c.key",
    )
    assert spec.login is not None
    assert (spec.login.registry, spec.login.username) == ("reg.example.com:8443", "me")
    assert "pw" not in repr(spec.login)
    argv, _ = invocation(
        ws,
        tags="r/a:1",
        registry_certificates="reg.example.com:8443=ca.pem\nother:1=ca.pem",
        registry_client_certs="reg.example.com:8443=c.crt,c.key",
    )
    assert argv[-3:] == [
        f"--registry-certificate=reg.example.com:8443={KD}/certs/ca-0.pem",
        f"--registry-certificate=other:1={KD}/certs/ca-1.pem",
        f"--registry-client-cert=reg.example.com:8443={KD}/certs/client-0.crt,"
        f"{KD}/certs/client-0.key",
    ]
    assert not any("pw" in a for a in argv)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"username": "me"}, r"input 'password': is empty while 'username' is set"),
        ({"password": "pw"}, r"input 'username': is empty while 'password' is set"),
        ({"registry": "ghcr.io"}, r"input 'registry': is set but 'username' and 'password'"),
        ({"username": "u", "password": "p", "registry": "ftp://x"}, r"input 'registry'"),
        (
            {"registry_certificates": "reg=missing.pem"},
            r"input 'registry-certificates': 'missing.pem' \(for reg\) does not exist",
        ),
        (
            {"registry_certificates": "no-equals"},
            r"input 'registry-certificates': line 1 is not of the form NAME=VALUE",
        ),
        (
            {"registry_client_certs": "reg=only-one.pem"},
            r"input 'registry-client-certs': 'reg=only-one.pem' is not",
        ),
        ({"kaniko_args": "--registry-certificate=a=b"}, r"use the 'registry-certificates' input"),
    ],
)
def test_bad_login_inputs(ws: Path, inputs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        invocation(ws, tags="r/a:1", **inputs)


CERTIFICATE_INPUTS = [
    ("registry_certificates", "reg:5000={}", "registry-certificates"),
    ("registry_client_certs", "reg:5000={},c.key", "registry-client-certs"),
    ("registry_client_certs", "reg:5000=c.crt,{}", "registry-client-certs"),
]


@pytest.mark.parametrize(("field", "template", "name"), CERTIFICATE_INPUTS)
@pytest.mark.parametrize(
    ("make", "value", "why"),
    [
        (None, "{relative}/rootonly", r"resolves to {secret}, which is not inside"),
        (None, "{secret}", r"resolves to {secret}, which is not inside"),
        (lambda ws, s: (ws / "ca.pem").symlink_to(s), "ca.pem", r"resolves to {secret} \(through a symlink in 'ca.pem'\)"),
        (lambda ws, s: (ws / "certs").symlink_to(s.parent), "certs/rootonly", r"resolves to {secret} \(through a symlink"),
        (lambda ws, s: os.mkfifo(ws / "fifo"), "fifo", r"is not a regular file"),
        (lambda ws, s: (ws / "big.pem").write_bytes(b"x" * (1024 * 1024 + 1)), "big.pem", r"is larger than 1 MiB"),
    ],
)  # fmt: skip
def test_certificate_files_stay_in_the_workspace(
    ws: Path,
    tmp_path_factory: pytest.TempPathFactory,
    field: str,
    template: str,
    name: str,
    make: object,
    value: str,
    why: str,
) -> None:
    """A pull request's link to a root-only runner file, `..`, an absolute path elsewhere, a
    fifo or a huge file: refused while the spec is built, naming the input and the registry."""
    outside = tmp_path_factory.mktemp("outside")
    secret = outside / "rootonly"
    secret.write_text("-----BEGIN PRIVATE KEY-----\nrunner\n")
    secret.chmod(0o600)
    temp = tmp_path_factory.mktemp("temp")
    for other in ("c.crt", "c.key"):
        (ws / other).write_text(other)
    if callable(make):
        make(ws, secret)
    given = value.format(relative=os.path.relpath(outside, ws), secret=secret)  # ../outside
    raw = dict(DEFAULTS)
    raw.update({"tags": "r/a:1", field.replace("_", "-"): template.format(given)})
    expected = rf"input '{name}': '{given}' \(for reg:5000\) " + why.format(secret=secret)
    with pytest.raises(InputError, match=expected):
        build_spec(raw, str(ws), runner_temp=str(temp))


def test_certificate_files_in_runner_temp_and_links_inside(
    ws: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    temp = tmp_path_factory.mktemp("temp")
    (temp / "ca.pem").write_text("ca")
    (ws / "c.crt").write_text("c")
    (ws / "key.pem").write_text("k")
    (ws / "c.key").symlink_to("key.pem")
    raw = dict(DEFAULTS)
    raw.update(
        {
            "tags": "r/a:1",
            "registry-certificates": f"reg:5000={temp}/ca.pem",
            "registry-client-certs": "reg:5000=c.crt,c.key",
        }
    )
    spec = build_spec(raw, str(ws), runner_temp=str(temp))
    assert spec.registry_certificates == (("reg:5000", temp / "ca.pem"),)
    assert spec.registry_client_certs == (("reg:5000", ws / "c.crt", ws / "key.pem"),)


def test_login_registry_defaults_to_docker_hub_for_short_names(ws: Path) -> None:
    spec = spec_of(ws, tags="org/app:1", username="u", password="p")
    assert spec.login is not None and spec.login.registry == "index.docker.io"
    spec = spec_of(ws, tags="org/app:1", username="u", password="p", registry="https://ghcr.io/")
    assert spec.login is not None and spec.login.registry == "ghcr.io"


def test_build_args_go_through_the_environment(ws: Path) -> None:
    argv, env = invocation(
        ws,
        tags="r/a:1",
        build_args="GREETING=hello big world\nmy-arg=x y\n1.odd=v=w\nGREETING=last wins",
    )
    # Every value stays off the command line (/proc/PID/cmdline is world-readable), also
    # for names that are not shell variable names: the executor reads them with Getenv.
    assert [a for a in argv if a.startswith("--build-arg")] == [
        "--build-arg=GREETING",
        "--build-arg=my-arg",
        "--build-arg=1.odd",
    ]
    assert (env["GREETING"], env["my-arg"], env["1.odd"]) == ("last wins", "x y", "v=w")
    assert not any("hello" in a or "x y" in a or "v=w" in a for a in argv)
    assert env["PATH"].startswith("/usr/local/bin:/.kaniko-build:")


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "KANIKO_DIR",
        "KANIKO_NO_PUSH",
        "KANIKO_REGISTRY_MAP",
        "FF_KANIKO_X",
        "DOCKER_CONFIG",
        "DOCKER_AUTH_CONFIG",
        "SSL_CERT_FILE",
        "GODEBUG",
        "container",
        "XDG_RUNTIME_DIR",
    ],
)
def test_build_args_the_executor_reads_itself_are_refused(ws: Path, name: str) -> None:
    with pytest.raises(InputError, match=rf"input 'build-args': entry 1: '{name}' is a variable"):
        invocation(ws, tags="r/a:1", build_args=f"{name}=secret-value")


def test_build_arg_equal_to_what_the_executor_gets_is_kept(ws: Path) -> None:
    raw = dict(DEFAULTS)
    raw.update({"tags": "r/a:1", "build-args": "AWS_REGION=eu-west-1\nHTTPS_PROXY=http://p:3128"})
    spec = build_spec(raw, str(ws))
    passthrough = executor_passthrough(
        {"HTTPS_PROXY": "http://p:3128", "RUNNER_TRACKING_ID": "t1"}, {"AWS_REGION": "eu-west-1"}
    )
    inv = executor_invocation(spec, chroot_layout(spec.paths), passthrough)
    assert inv.env["AWS_REGION"] == "eu-west-1"
    assert inv.env["HTTPS_PROXY"] == "http://p:3128"
    assert inv.env["RUNNER_TRACKING_ID"] == "t1"
    assert "--build-arg=AWS_REGION" in inv.argv
    raw["build-args"] = "AWS_REGION=us-east-1"
    spec = build_spec(raw, str(ws))
    with pytest.raises(InputError, match="'AWS_REGION' is a variable the kaniko executor reads"):
        executor_invocation(spec, chroot_layout(spec.paths), passthrough)


def test_environment_matches_the_executor_image(ws: Path) -> None:
    _, env = invocation(ws, tags="r/a:1")
    assert env == {
        "PATH": "/usr/local/bin:/.kaniko-build:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "USER": "root",
        "KANIKO_DIR": KD,
        "DOCKER_CONFIG": f"{KD}/.docker",
        "SSL_CERT_DIR": f"{KD}/ssl/certs",
        "SSL_CERT_FILE": f"{KD}/ssl/certs/ca-certificates.crt",
    }


@pytest.mark.parametrize(
    ("inputs", "dockerfile", "context"),
    [
        ({"context": "sub"}, f"{KD}/context/Dockerfile", f"{KD}/context"),
        (
            {"file": "sub/Dockerfile", "context": "."},
            f"{KD}/context/sub/Dockerfile",
            f"{KD}/context",
        ),
        ({"dockerfile": "sub/Dockerfile"}, f"{KD}/context/Dockerfile", f"{KD}/context"),
        (
            {"file": "other/Dockerfile.prd", "context": "sub"},
            f"{KD}/dockerfile/Dockerfile.prd",
            f"{KD}/context",
        ),
    ],
)
def test_dockerfile_location_in_chroot(
    ws: Path, inputs: dict[str, str], dockerfile: str, context: str
) -> None:
    argv, _ = invocation(ws, tags="r/a:1", **inputs)
    assert f"--dockerfile={dockerfile}" in argv
    assert f"--context=dir://{context}" in argv


def test_duplicate_destinations_collapse(ws: Path) -> None:
    argv, _ = invocation(ws, tags="r/a:1\nr/a:1", image="r/a", tag="1")
    assert [a for a in argv if a.startswith("--destination")] == ["--destination=r/a:1"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"push": "true"}, r"input 'tags': no destination to push to: set 'tags', or drop"),
        ({"outputs": "type=registry"}, r"input 'tags': no destination to push to"),
        (
            {"push": "true", "outputs": "type=local,dest=out"},
            r"input 'tags': no destination to push to",
        ),
        (
            {"tags": "r/a:1", "outputs": "type=image"},
            r"input 'outputs': 'type=image': without push=true there is no image store to keep the image in; add push=true \(or set 'push: true'\), or write it",
        ),
        (
            {"tags": "r/a:1", "push": "false", "outputs": "type=image"},
            r"input 'outputs': 'type=image': without push=true",
        ),
        (
            {"tags": "r/a:1", "push": "true", "outputs": "type=image,push=false"},
            r"input 'outputs': 'type=image,push=false': without push=true .* add push=true, or",
        ),
        ({"tags": "r/a:1", "push": "yes"}, r"input 'push': 'yes' is not a boolean"),
        ({"tags": "Bad/Ref"}, r"input 'tags': 'Bad/Ref' is not a valid image reference"),
        ({"image": "r/a:1"}, r"input 'image': 'r/a:1' must not carry a tag"),
        ({"tag": "v1"}, r"input 'tag': is set but 'image' is empty"),
        ({"tags": "r/a@sha256:" + "a" * 64}, r"input 'tags': .* has a digest"),
        (
            {"tags": "r/a:1", "build_args": "A=1\n\nNOVALUE"},
            r"input 'build-args': line 3 is not of the form NAME=VALUE$",
        ),
        ({"tags": "r/a:1", "labels": "x"}, r"input 'labels': line 1 is not of the form"),
        ({"tags": "r/a:1", "target": "two words"}, r"input 'target'"),
        ({"tags": "r/a:1", "insecure_registries": "http://x"}, r"input 'insecure-registries'"),
        ({"tags": "r/a:1", "executor_dir": "kaniko"}, r"input 'executor-dir'"),
        ({"tags": "r/a:1", "context": "nope"}, r"input 'context': 'nope' does not exist"),
        (
            {"tags": "r/a:1", "cache_ttl": "2 days"},
            r"input 'cache-ttl': '2 days' is not a duration",
        ),
        ({"push": "false", "cache": "true"}, r"input 'cache-repo': 'cache' is on but there is no"),
        (
            {"tags": "r/a:1", "cache_repo": "a", "cache_repository": "b"},
            r"input 'cache-repository'",
        ),
        ({"tags": "r/a:1", "cache_repo": "Bad Repo"}, r"input 'cache-repo'"),
        (
            {"tags": "r/a:1", "cache_dir": "missing"},
            r"input 'cache-dir': 'missing' is not a directory",
        ),
        ({"tags": "r/a:1", "platform": "arm64"}, r"input 'platform': 'arm64' is not os/arch"),
        (
            {"tags": "r/a:1", "platform": "linux/amd64", "platforms": "linux/arm64"},
            r"input 'platforms'",
        ),
        (
            {"tags": "r/a:1", "snapshot_mode": "fast"},
            r"input 'snapshot-mode': 'fast' is not one of",
        ),
        ({"tags": "r/a:1", "verbosity": "loud"}, r"input 'verbosity': 'loud' is not one of"),
        ({"tags": "r/a:1", "push_retry": "-1"}, r"input 'push-retry': '-1' is not a whole number"),
        ({"tags": "r/a:1", "reproducible": "yes"}, r"input 'reproducible'"),
        ({"tags": "r/a:1", "use_new_run": "1"}, r"input 'use-new-run'"),
        ({"tags": "r/a:1", "single_snapshot": "yes"}, r"input 'single-snapshot': 'yes' is not"),
        ({"tags": "r/a:1", "summary": "off"}, r"input 'summary'"),
        ({"push": "false", "tar_path": "i.tar"}, r"input 'tar-path': needs a destination name"),
        ({"tags": "r/a:1", "tar_path": "."}, r"input 'tar-path': '.' holds the workspace"),
        ({"tags": "r/a:1", "tar_path": "sub"}, r"input 'tar-path': 'sub' is a directory"),
        (
            {"tags": "r/a:1", "oci_layout_path": "Dockerfile"},
            r"input 'oci-layout-path': 'Dockerfile' exists",
        ),
        ({"tags": "r/a:1", "add_hosts": "nohost"}, r"input 'add-hosts': 'nohost' is not host:ip"),
        ({"tags": "r/a:1", "registry_mirrors": "https://m"}, r"input 'registry-mirrors'"),
        (
            {"tags": "r/a:1", "skip_tls_verify_registries": "a b"},
            r"input 'skip-tls-verify-registries'",
        ),
        (
            {"tags": "r/a:1", "kaniko_args": "skip-unused-stages"},
            r"input 'kaniko-args': line 1 is not a flag",
        ),
        # Single-dash forms and second flags on one line cannot slip an owned flag through.
        ({"tags": "r/a:1", "kaniko_args": "-dother/x:1"}, r"line 1: '-d' is set by the action"),
        ({"tags": "r/a:1", "kaniko_args": "-f/etc/passwd"}, r"line 1: '-f' is set by the action"),
        ({"tags": "r/a:1", "kaniko_args": "-c=/"}, r"'-c' is set by the action"),
        ({"tags": "r/a:1", "kaniko_args": "-vdebug"}, r"'-v' is set by the action"),
        (
            {
                "tags": "r/a:1",
                "kaniko_args": "--compressed-caching=false\n--skip-unused-stages --destination x",
            },
            r"line 2: one flag and at most one value per line",
        ),
        (
            {"tags": "r/a:1", "kaniko_args": "--ignore-path /a /b"},
            r"line 1: one flag and at most one value per line",
        ),
        ({"tags": "r/a:1", "kaniko_args": "--"}, r"line 1 is not a flag"),
        (
            {"tags": "r/a:1", "kaniko_args": "--ignore-path 'unterminated"},
            r"input 'kaniko-args': line 1: No closing quotation",
        ),
        (
            {"tags": "r/a:1", "kaniko_args": "--destination=x/y:z"},
            r"'--destination' is set by the action: use the 'tags' input",
        ),
        (
            {"tags": "r/a:1", "kaniko_args": "-f other"},
            r"'-f' is set by the action: use the 'file' input",
        ),
        ({"tags": "r/a:1", "kaniko_args": "--context=/x"}, r"use the 'context' input"),
        ({"tags": "r/a:1", "kaniko_args": "--digest-file=/x"}, r"use the 'digest' output"),
        ({"tags": "r/a:1", "kaniko_args": "--kaniko-dir=/x"}, r"use the 'executor-dir' input"),
        ({"tags": "r/a:1", "kaniko_args": "--cache-repo x"}, r"use the 'cache-repo' input"),
        (
            {"tags": "r/a:1", "kaniko_args": "--single-snapshot"},
            r"'--single-snapshot' is set by the action: use the 'single-snapshot' input",
        ),
        (
            {"tags": "r/a:1", "kaniko_args": "--use-new-run=true"},
            r"'--use-new-run' is set by the action: use the 'use-new-run' input",
        ),
        # kaniko's deprecated spelling of --snapshot-mode cannot bypass the input's warning.
        (
            {"tags": "r/a:1", "kaniko_args": "--snapshotMode=redo"},
            r"'--snapshotMode' is set by the action: use the 'snapshot-mode' input",
        ),
        ({"tags": "r/a:1", "load": "true"}, r"input 'load'"),
    ],
)
def test_bad_inputs(ws: Path, inputs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        invocation(ws, **inputs)


def test_what_the_sandbox_placed_is_passed_as_ignore_paths(ws: Path) -> None:
    """In namespaces of their own RUN steps see the real mountinfo, which lists only real
    mounts: the injected files, and files staged for credential helpers, reach kaniko's
    ignore list as flags, right after the fixed ones."""
    raw = dict(DEFAULTS)
    raw.update({"tags": "r/a:1"})
    spec = build_spec(raw, str(ws))
    helper_file = PurePosixPath("/var/run/secrets/token")
    inv = executor_invocation(
        spec, chroot_layout(spec.paths), ignore_paths=ignored_paths((helper_file,))
    )
    assert list(inv.argv[: len(FIXED) + 6]) == [
        *FIXED,
        "--ignore-path=/dev",
        "--ignore-path=/proc",
        "--ignore-path=/etc/resolv.conf",
        "--ignore-path=/etc/hosts",
        "--ignore-path=/etc/nsswitch.conf",
        "--ignore-path=/var/run/secrets/token",
    ]
    # kaniko's own directory is on its default list already.
    assert not [a for a in inv.argv if a.startswith("--ignore-path=/.kaniko-build")]
