# syntax=docker/dockerfile:1
# otelmock: every mock exporter in one container, as `otelmock run` serves them (see docs/stack.md).
#
#   docker build -t otelmock:0.1.0 .
#   docker run --rm -p 9100:9100 -p 9445:9445 -p 8080:8080 -p 9901:9901 -p 9902:9902 otelmock:0.1.0
#
# Nothing needs a rebuild to change the simulation: OTELMOCK_* variables override any setting, a settings
# file can be mounted and named with `--config`, and scenario files mounted on /etc/otelmock/scenarios
# are picked up next to the packaged ones.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY otelmock ./otelmock
COPY scenarios ./scenarios
# the packages land in /install and are copied alone into the runtime stage: no sources, no build cache
RUN pip install --prefix=/install .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OTELMOCK_SCENARIOS_DIR=/etc/otelmock/scenarios
# the packaged scenarios come with the install (<prefix>/share/otelmock/scenarios);
# /var/lib/otelmock/docker is where the container log files are written (a volume in compose)
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 otelmock \
 && useradd --system --uid 10001 --gid otelmock --no-log-init --home-dir /var/lib/otelmock --create-home \
        --shell /usr/sbin/nologin otelmock \
 && mkdir -p /etc/otelmock/scenarios /var/lib/otelmock/docker \
 && chown otelmock:otelmock /var/lib/otelmock/docker \
 && otelmock scenarios >/dev/null
USER 10001:10001
WORKDIR /var/lib/otelmock
# node_exporter, dcgm-exporter, cAdvisor, LiteLLM, vLLM, control API
EXPOSE 9100 9445 8080 9901 9902 9900
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('OTELMOCK_PORTS__NODE', '9100'), timeout=2)"]
CMD ["otelmock", "run"]
