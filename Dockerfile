# Self-hosted runner image with the kaniko executor and python3, for the
# kaniko-build action. Deploy it wherever ghcr.io/actions/actions-runner runs.
#
#   docker build -t my-runner .
#   docker build --build-arg KANIKO_IMAGE=gcr.io/kaniko-project/executor:v1.24.0 -t my-runner .
ARG RUNNER_IMAGE=ghcr.io/actions/actions-runner:2.331.0
ARG KANIKO_IMAGE=ghcr.io/osscontainertools/kaniko:v1.27.5

FROM ${KANIKO_IMAGE} AS kaniko

FROM ${RUNNER_IMAGE}

USER root

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=kaniko /kaniko /kaniko

USER runner
