# kubereload's image: the CLI (demo, watch, run, sync, controller) on python:3.11-slim.
#   docker build -t kubereload:0.1.0 .
#   docker run --rm -p 8080:8080 kubereload:0.1.0 demo --host 0.0.0.0   # the local demo
# The default command serves the demo from a ConfigMap mounted at /etc/demo (deploy/demo/).

# Build stage: install the package and its runtime dependencies (no dev extras) into a venv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/kubereload
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN /opt/kubereload/bin/pip install /src

# Final stage: the venv only; no compiler, no pip cache, no sources.
FROM python:3.11-slim
ENV PATH=/opt/kubereload/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/kubereload /opt/kubereload
# A numeric user, so Kubernetes can check runAsNonRoot without a passwd lookup.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["kubereload"]
CMD ["demo", "--config-dir", "/etc/demo", "--host", "0.0.0.0"]
