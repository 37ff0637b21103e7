"""End to end: the action builds with the real executor in its chroot and pushes to a real
registry; results are checked through the registry's HTTP API, and every build proves the host
was left untouched."""

from __future__ import annotations

import pytest

from .support.action import ActionHarness, ActionRun
from .support.registry import FileEntry, Registry

pytestmark = pytest.mark.e2e


def assert_clean(run: ActionRun) -> None:
    assert run.host_changes == [], "host changed:\n" + "\n".join(run.host_changes)


def assert_pushed(registry: Registry, run: ActionRun, repo: str, tag: str) -> dict[str, FileEntry]:
    """The action succeeded, its digest output is the registry's, and the image's files."""
    assert run.returncode == 0, run.stdout
    manifest = registry.client().get_manifest(repo, tag)
    assert run.outputs["digest"] == manifest.digest
    assert run.outputs["image"] == f"{registry.host}/{repo}@{manifest.digest}"
    return registry.client().image_files(repo, tag)


def test_v2_inputs_dockerfile_at_root(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nCOPY app.txt /srv/app.txt\nRUN sleep 0 && ls /srv > /listing\n",
    )
    harness.write("app.txt", "v2 build\n")
    run = harness.run(
        dockerfile="Dockerfile",
        image=f"{registry.host}/e2e/v2",
        tag="first",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, run, "e2e/v2", "first")
    assert files["srv/app.txt"].text == "v2 build\n"
    # busybox applets re-execute /proc/self/exe: it must not be the executor by then.
    assert files["listing"].text == "app.txt\n"
    assert files["bin/busybox"].type == "file"
    assert_clean(run)


def test_dockerfile_in_subdirectory_with_its_own_context(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("service/Dockerfile", f"FROM {busybox_image}\nCOPY . /app/\n")
    harness.write("service/main.txt", "service main\n")
    harness.write("service/pkg/lib.txt", "service lib\n")
    harness.write("root-only.txt", "must not be in the context\n")
    run = harness.run(
        dockerfile="service/Dockerfile",
        image=f"{registry.host}/e2e/subdir",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, run, "e2e/subdir", "latest")
    assert files["app/main.txt"].text == "service main\n"
    assert files["app/pkg/lib.txt"].text == "service lib\n"
    assert "app/service" not in files
    assert "app/root-only.txt" not in files
    assert_clean(run)


def test_context_is_parent_of_dockerfile_directory(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "dockerfiles/Dockerfile.prd",
        f"FROM {busybox_image}\nCOPY shared.txt /app/\nCOPY dockerfiles/extra.txt /app/\n",
    )
    harness.write("dockerfiles/extra.txt", "from the subdirectory\n")
    harness.write("shared.txt", "from the root\n")
    run = harness.run(
        file="dockerfiles/Dockerfile.prd",
        context=".",
        tags=f"{registry.host}/e2e/parent-context:prd",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, run, "e2e/parent-context", "prd")
    assert files["app/shared.txt"].text == "from the root\n"
    assert files["app/extra.txt"].text == "from the subdirectory\n"
    assert_clean(run)


MULTI_STAGE = """\
FROM {base} AS builder
RUN head -c 64 /dev/urandom | od -An -tx1 > /tmp/random.hex \\
 && head -c 16 /dev/random > /tmp/random.bin \\
 && test -s /tmp/random.hex && test -s /tmp/random.bin
RUN mkdir -p /usr/local/share/built && echo built-in-builder > /usr/local/share/built/marker \\
 && echo "builder-host" > /etc/builder-marker && rm -f /usr/bin/apt-cache
FROM {base}
COPY --from=builder /usr/local/share/built/marker /usr/share/from-builder
COPY --from=builder /tmp/random.hex /opt/random.hex
RUN echo final-etc > /etc/final-marker && echo nameserver-check >> /usr/share/from-builder \\
 && rm -rf /usr/share/doc && getent hosts localhost > /etc/hosts-lookup
"""


def test_multi_stage_debian(harness: ActionHarness, registry: Registry, debian_image: str) -> None:
    harness.write("Dockerfile", MULTI_STAGE.format(base=debian_image))
    run = harness.run(tags=f"{registry.host}/e2e/multistage:1", insecure_registries=registry.host)
    files = assert_pushed(registry, run, "e2e/multistage", "1")
    assert files["usr/share/from-builder"].text == "built-in-builder\nnameserver-check\n"
    assert len(files["opt/random.hex"].text.split()) == 64
    assert files["etc/final-marker"].text == "final-etc\n"
    assert "localhost" in files["etc/hosts-lookup"].text
    # The builder stage's changes stay in the builder; the final stage starts from the base.
    assert "etc/builder-marker" not in files
    assert "usr/bin/apt-cache" in files
    assert not any(p.startswith("usr/share/doc/") for p in files)
    # Nothing the sandbox injected leaks into the image.
    assert not any(p.startswith((".kaniko-build", "proc/self")) for p in files)
    assert "usr/bin/bash" in files
    assert_clean(run)


def test_image_containing_kaniko_directory(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nCOPY executor /kaniko/executor\n"
        "RUN mkdir -p /kaniko/ssl && echo mine > /kaniko/ssl/own.txt && /kaniko/executor\n",
    )
    harness.write("executor", "#!/bin/sh\necho image-own-kaniko\n").chmod(0o755)
    run = harness.run(tags=f"{registry.host}/e2e/has-kaniko:1", insecure_registries=registry.host)
    files = assert_pushed(registry, run, "e2e/has-kaniko", "1")
    assert files["kaniko/executor"].text == "#!/bin/sh\necho image-own-kaniko\n"
    assert files["kaniko/ssl/own.txt"].text == "mine\n"
    assert "image-own-kaniko" in run.stdout
    assert_clean(run)


def test_two_builds_in_one_job(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("one/Dockerfile", f"FROM {busybox_image}\nRUN echo one > /which\n")
    harness.write("two/Dockerfile", f"FROM {busybox_image}\nRUN echo two > /which\n")
    first = harness.run(
        file="one/Dockerfile",
        tags=f"{registry.host}/e2e/twice:one",
        insecure_registries=registry.host,
    )
    second = harness.run(
        file="two/Dockerfile",
        tags=f"{registry.host}/e2e/twice:two",
        insecure_registries=registry.host,
    )
    assert assert_pushed(registry, first, "e2e/twice", "one")["which"].text == "one\n"
    assert assert_pushed(registry, second, "e2e/twice", "two")["which"].text == "two\n"
    assert first.outputs["digest"] != second.outputs["digest"]
    assert_clean(first)
    assert_clean(second)


def test_localhost_registry_from_and_to(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    local = f"localhost:{registry.port}"
    harness.write("Dockerfile", f"FROM {local}/base/busybox:latest\nRUN echo via-localhost > /x\n")
    run = harness.run(tags=f"{local}/e2e/localhost:1", insecure_registries=local)
    assert run.returncode == 0, run.stdout
    manifest = registry.client().get_manifest("e2e/localhost", "1")
    assert run.outputs["digest"] == manifest.digest
    assert run.outputs["image"] == f"{local}/e2e/localhost@{manifest.digest}"
    assert registry.client().image_files("e2e/localhost", "1")["x"].text == "via-localhost\n"
    assert_clean(run)


def test_build_args_labels_and_target(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image} AS base\nARG GREETING\nARG MODE=default\n"
        'RUN echo "$GREETING|$MODE" > /greeting\n'
        "FROM base AS middle\nRUN echo middle > /stage\n"
        "FROM middle AS last\nRUN echo last-stage-ran && false\n",
    )
    run = harness.run(
        tags=f"{registry.host}/e2e/args:mid",
        build_args="GREETING=hello big world\nMODE=a=b",
        labels="org.opencontainers.image.title=My App\nteam=platform",
        target="middle",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, run, "e2e/args", "mid")
    assert files["greeting"].text == "hello big world|a=b\n"
    assert files["stage"].text == "middle\n"
    config = registry.client().image_config("e2e/args", "mid")
    assert config["config"]["Labels"] == {
        "org.opencontainers.image.title": "My App",
        "team": "platform",
    }
    assert "last-stage-ran" not in run.stdout
    assert_clean(run)


def test_push_false_sends_nothing(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo built > /built\n")
    run = harness.run(
        tags=f"{registry.host}/e2e/nopush:1", push="false", insecure_registries=registry.host
    )
    assert run.returncode == 0, run.stdout
    assert "digest" not in run.outputs
    assert registry.client().tags("e2e/nopush") == []
    assert "e2e/nopush" not in registry.client().catalog()
    assert_clean(run)


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_build_push_action_step_without_push_only_builds(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """A step written for build-push-action with `tags` and no `push` (the runner passes
    ""): built, nothing pushed; a registry cache-from is read and never written; a cache
    type kaniko cannot honour is a warning that never shows its token."""
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo built > /built\n")
    run = harness.run(
        tags=f"{registry.host}/e2e/bpa-default:1",
        push="",
        cache_from=f"type=registry,ref={registry.host}/e2e/bpa-cache:c",
        cache_to="type=s3,region=eu-west-1,bucket=b,secret_access_key=e2e_secret_key",
        insecure_registries=registry.host,
    )
    assert run.returncode == 0, run.stdout
    assert "digest" not in run.outputs
    catalog = registry.client().catalog()
    assert "e2e/bpa-default" not in catalog and "e2e/bpa-cache" not in catalog
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1, run.stdout
    assert (
        "entry 1 (type=s3,region=eu-west-1,bucket=b,secret_access_key=(hidden)) is not honoured"
        in warnings[0]
    )
    assert "e2e_secret_key" not in run.stdout
    assert any(line.startswith("::notice::nothing is pushed") for line in run.stdout.splitlines())
    assert "No cached layer found for cmd RUN echo built" in run.stdout
    assert_clean(run)


def test_failing_run_step(harness: ActionHarness, registry: Registry, busybox_image: str) -> None:
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN echo fine\nRUN echo about-to-fail && exit 3\nRUN echo never\n",
    )
    run = harness.run(tags=f"{registry.host}/e2e/fails:1", insecure_registries=registry.host)
    assert run.returncode != 0
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, run.stdout
    assert "RUN echo about-to-fail && exit 3" in errors[0]
    assert "exit status 3" in errors[0]
    assert "digest" not in run.outputs
    assert registry.client().tags("e2e/fails") == []
    assert_clean(run)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"file": "../outside/Dockerfile"}, "input 'file': '../outside/Dockerfile' is outside"),
        ({"file": "missing/Dockerfile"}, "input 'file': 'missing/Dockerfile' does not exist"),
        ({"context": "nowhere"}, "input 'context': 'nowhere' does not exist"),
        ({"context": "/etc"}, "input 'context': '/etc' is outside the workspace"),
        ({"file": "escape/Dockerfile"}, "input 'file': 'escape/Dockerfile' resolves to"),
        ({"context": "escape"}, "input 'context': 'escape' resolves to"),
    ],
)
def test_bad_paths_are_refused_before_kaniko_runs(
    harness: ActionHarness, registry: Registry, inputs: dict[str, str], message: str
) -> None:
    outside = harness.workspace.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "Dockerfile").write_text("FROM scratch\n")
    (harness.workspace / "escape").symlink_to(outside)
    harness.write("Dockerfile", "FROM scratch\n")
    run = harness.run(tags=f"{registry.host}/e2e/refused:1", **inputs)
    assert run.returncode == 1
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, run.stdout
    assert errors[0].startswith("::error title=Invalid input::")
    assert message in errors[0]
    assert "::group::Stage" not in run.stdout
    assert "::group::Build" not in run.stdout
    assert list(harness.runner_temp.iterdir()) == []
    assert_clean(run)


def test_dockerignore_is_respected(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("app/.dockerignore", "secret.txt\nnode_modules\n")
    harness.write("app/secret.txt", "do not ship\n")
    harness.write("app/node_modules/pkg/index.js", "ignored\n")
    harness.write("app/main.txt", "shipped\n")
    harness.write("app/Dockerfile", f"FROM {busybox_image}\nCOPY . /app/\n")
    # A Dockerfile outside the context brings its own <name>.dockerignore, which wins.
    harness.write("docker/Dockerfile.alt", f"FROM {busybox_image}\nCOPY . /app/\n")
    harness.write("docker/Dockerfile.alt.dockerignore", "main.txt\n")
    first = harness.run(
        context="app", tags=f"{registry.host}/e2e/ignore:1", insecure_registries=registry.host
    )
    files = assert_pushed(registry, first, "e2e/ignore", "1")
    assert files["app/main.txt"].text == "shipped\n"
    assert "app/secret.txt" not in files
    assert not any(p.startswith("app/node_modules") for p in files)
    second = harness.run(
        context="app",
        file="docker/Dockerfile.alt",
        tags=f"{registry.host}/e2e/ignore:2",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, second, "e2e/ignore", "2")
    assert "app/main.txt" not in files
    assert files["app/secret.txt"].text == "do not ship\n"
    assert_clean(first)
    assert_clean(second)
