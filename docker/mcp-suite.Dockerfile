# syntax=docker/dockerfile:1
# mcp-suite: the four MCP servers in one process over streamable HTTP on 8765 (/mcp).
# Build from the repository root:  docker build -f docker/mcp-suite.Dockerfile -t mcp-suite:0.1.0 .
# The image holds the three workspace packages, the same installation as trading-core's image (one
# version of the guardrails on both sides), installed from uv.lock exactly, without dev tools.

FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

FROM python:3.11.13-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# The locked dependencies first: this layer is rebuilt only when uv.lock or a pyproject changes.
COPY pyproject.toml uv.lock ./
COPY trading-core/pyproject.toml trading-core/pyproject.toml
COPY mcp-servers/pyproject.toml mcp-servers/pyproject.toml
COPY agents/pyproject.toml agents/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --all-packages --no-install-workspace
COPY trading-core trading-core
COPY mcp-servers mcp-servers
COPY agents agents
# Not editable: the runtime stage copies the virtualenv alone, without the sources.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --all-packages --no-editable

FROM python:3.11.13-slim-bookworm
RUN groupadd --system --gid 10001 trading \
    && useradd --system --no-log-init --uid 10001 --gid trading \
        --home-dir /var/lib/trading --create-home --shell /usr/sbin/nologin trading
COPY --from=build /app/.venv /app/.venv
COPY docker/entrypoint.sh /usr/local/bin/trading-entrypoint
COPY docker/healthcheck.py /usr/local/bin/trading-healthcheck
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRADING_DATA_DIR=/var/lib/trading
USER 10001:10001
WORKDIR /var/lib/trading
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/bin/trading-healthcheck", "http://127.0.0.1:8765/metrics", "200"]
ENTRYPOINT ["trading-entrypoint"]
CMD ["mcp-suite", "--transport", "http", "--host", "0.0.0.0", "--port", "8765"]
