# Self-hosted runner image for the kaniko-build action: the official GitHub Actions runner
# image (what actions-runner-controller runs by default) with kaniko's files at /kaniko.
# Jobs run as `runner` (uid 1001) with the base image's passwordless sudo, through which
# the action becomes root for its chroot. deploy/ shows how to run it on Kubernetes.
#
#   docker build -t registry.example.com/ci/kaniko-runner:1 .
#
# or, with no Docker daemon, with kaniko-build itself (README.md, "Quick start"). The
# defaults pin current releases of the runner image and of the maintained kaniko fork's
# executor image. The last release of the archived upstream kaniko works too:
#
#   --build-arg EXECUTOR_IMAGE=gcr.io/kaniko-project/executor:v1.24.0
ARG RUNNER_IMAGE=ghcr.io/actions/actions-runner:2.336.0
ARG EXECUTOR_IMAGE=ghcr.io/osscontainertools/kaniko:v1.28.3

FROM ${EXECUTOR_IMAGE} AS kaniko

FROM ${RUNNER_IMAGE}

USER root

# The executor, its credential helpers and CA bundle, laid out as the executor image has them.
COPY --from=kaniko /kaniko /kaniko

# The executor image makes /kaniko writable for everyone (for kaniko run as non-root); here
# only root may change what the action runs as root. python3 (>= 3.9) runs the action: the
# runner image has it (software-properties-common depends on it); a base without it gets it.
RUN chmod 0755 /kaniko \
    && if ! command -v python3 >/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 \
        && rm -rf /var/lib/apt/lists/*; \
    fi

USER runner
