# kubereload's image: the CLI (watch, run, sync, controller, demo, ...) on Debian's slim Python.
#   make image                      # docker build with the version and commit as labels
#   docker run --rm kubereload:VERSION --help
#   docker run --rm -p 8080:8080 kubereload:VERSION demo --host 0.0.0.0   # the local demo
#
# The base is pinned to a patch release. For a build that can never change under you, pin its
# digest too:  docker buildx imagetools inspect python:3.11.11-slim-bookworm  (the "Digest:"
# line), then  make image PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:<digest>
#
# Reproducible: dependency versions come from image-constraints.txt, file times from
# SOURCE_DATE_EPOCH, and bytecode is compiled with hash-based (timestamp-free) .pyc files.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# Build stage: the package and its runtime dependencies (no dev extras) in a venv.
FROM ${PYTHON_IMAGE} AS build
ARG SOURCE_DATE_EPOCH=0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}
RUN python -m venv /opt/kubereload
COPY pyproject.toml README.md LICENSE NOTICE CHANGELOG.md MANIFEST.in image-constraints.txt /src/
COPY src /src/src
RUN /opt/kubereload/bin/pip install --no-compile -c /src/image-constraints.txt '/src[admission]' \
 && /opt/kubereload/bin/pip uninstall --yes pip setuptools \
 && /opt/kubereload/bin/python -m compileall -q --invalidation-mode unchecked-hash /opt/kubereload/lib

# Final stage: the venv only; no pip, no setuptools, no compiler, no sources.
FROM ${PYTHON_IMAGE}
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kubereload" \
      org.opencontainers.image.description="Hot-reload configuration from Kubernetes ConfigMaps and Secrets" \
      org.opencontainers.image.source="https://github.com/kubereload/kubereload" \
      org.opencontainers.image.documentation="https://github.com/kubereload/kubereload/tree/main/docs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV PATH=/opt/kubereload/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/kubereload /opt/kubereload
# A numeric user, so Kubernetes can check runAsNonRoot without a passwd lookup.
USER 10001:10001
ENTRYPOINT ["kubereload"]
# Every manifest in deploy/ names its subcommand in `args`; alone, the image says what it can do.
CMD ["--help"]
