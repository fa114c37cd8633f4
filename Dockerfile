# scalable-app: the Starlette service on uvicorn. Build: make image (no Docker engine: make run).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- build: a virtualenv with the pinned runtime requirements, nothing else ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY service/requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --requirement /tmp/requirements.txt

# ---- runtime: slim base, the virtualenv, the service; read-only root filesystem friendly ----
FROM ${PYTHON_IMAGE}
# Nothing is written at run time: bytecode is compiled below, at build time; logs go to stdout.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY service/ service/
RUN python -m compileall -q /opt/venv /app/service
# The git revision the image was built from; /_health reports it as "version".
ARG GIT_REVISION=unknown
ENV APP_VERSION=${GIT_REVISION}
# A numeric user with no entry in /etc/passwd and no home: it owns nothing in the image.
# service/contract.py's USER, which the task definition states too (a test checks they match).
USER 10001:10001
EXPOSE 8448
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8448/_health', timeout=2).close()"]
# python -m service is uvicorn's command line, exiting 0 after a graceful SIGTERM (see
# service/__main__.py). service.protocol:HealthFirstProtocol is uvicorn's httptools protocol
# answering plain GET /_health itself. The app writes the access log (without /_health). No
# proxy-headers middleware: it trusts only 127.0.0.1, so behind the load balancer it never
# applies. The graceful timeout stays below ECS's 30 s stop timeout.
CMD ["python", "-m", "service", "service.app:app", "--host", "0.0.0.0", "--port", "8448", \
     "--loop", "uvloop", "--http", "service.protocol:HealthFirstProtocol", "--no-access-log", \
     "--no-proxy-headers", "--no-server-header", "--log-config", "service/logging.json", \
     "--timeout-graceful-shutdown", "20"]
