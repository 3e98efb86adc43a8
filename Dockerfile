# syntax=docker/dockerfile:1.7
# One image for the five services (choose one with the command: auth, ingest, sink, query, edge)
# and the web app edge serves. Build: `docker compose build` or `docker build -t event-analytics .`

# ---- build -------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The web app's toolchain first: its own layer, rebuilt only when the Rust image changes.
# npm fetches the trackers edge serves (posthog-js, pinned in edge/trackers/package-lock.json).
RUN rustup target add wasm32-unknown-unknown \
    && apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
COPY . .
# Dependencies and build output live in cache mounts: a source change rebuilds only the
# workspace crates, not the ~300 dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        --package auth --package ingest --package sink --package query --package edge \
    && cargo run --release --locked --package xtask -- ui \
    && mkdir -p /out/bin \
    && cp target/release/auth target/release/ingest target/release/sink \
          target/release/query target/release/edge /out/bin/ \
    && cp -r ui/dist /out/ui

# ---- runtime -----------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build /out/ui /srv/ui
COPY docker/healthcheck /usr/local/bin/healthcheck
ENV LISTEN_HOST=0.0.0.0 \
    UI_DIR=/srv/ui \
    LOG_FORMAT=json \
    RUST_LOG=info
USER 10001:10001
# No shell entry point: `command: ["edge"]` in compose, `args` in Kubernetes.
CMD ["edge"]
