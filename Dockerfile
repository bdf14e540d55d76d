# syntax=docker/dockerfile:1
# Synthians images: one build, four runtime targets — the groups of the deployment docs:
#   memory  (memory core, memory orchestrator, session memory agent, db-setup)
#   core    (coordinator, task router, health monitor, orchestrator, neural memory)
#   audio   (fused audio preprocessor, VAD agent, Wyoming server)
#   pc2     (ML worker, memory reasoning, DreamWorld; GPU-capable: see docs/deployment.md)
# Every container runs `synthians serve <service>` (compose.yaml / the manifests pick the service), as the non-root
# user `node`, with a HEALTHCHECK on its /health. Dependencies are installed here, at build time only;
# onnxruntime-node's GPU download is skipped (its CPU binary ships in the package).
#
#   docker build --target core -t synthians/core .
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
# `skip` (the default) keeps the CPU binary only; `--build-arg ONNXRUNTIME_NODE_INSTALL=cuda12` fetches the CUDA
# execution provider for the GPU variant of the pc2 image (compose profile gpu).
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL} npm_config_onnxruntime_node_install=${ONNXRUNTIME_NODE_INSTALL} npm_config_fund=false npm_config_audit=false
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN npm ci --omit=dev && npm run build:console && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 SYNTHIANS_DATA_DIR=/app/data MALLOC_ARENA_MAX=2
WORKDIR /app
RUN mkdir -p /app/data /app/logs /app/memory /app/models && chown node:node /app/data /app/logs /app/memory /app/models
COPY --from=build --chown=node:node /app /app
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/health').then((r) => process.exit(r.status < 500 ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "packages/synthians/bin/synthians.js"]

FROM runtime AS memory
USER node
CMD ["serve", "memory-core"]

# Offline speech recognition (pocketsphinx) for the coordinator's audio turns.
FROM runtime AS core
RUN apt-get update \
 && apt-get install -y --no-install-recommends pocketsphinx pocketsphinx-en-us \
 && rm -rf /var/lib/apt/lists/*
USER node
CMD ["serve", "coordinator"]

# pocketsphinx for the Wyoming server's transcribe.
FROM runtime AS audio
RUN apt-get update \
 && apt-get install -y --no-install-recommends pocketsphinx pocketsphinx-en-us \
 && rm -rf /var/lib/apt/lists/*
USER node
CMD ["serve", "vad"]

# The ML worker: pocketsphinx for its stt task (espeak-ng, Silero and openWakeWord ship in npm packages).
FROM runtime AS pc2
RUN apt-get update \
 && apt-get install -y --no-install-recommends pocketsphinx pocketsphinx-en-us \
 && rm -rf /var/lib/apt/lists/*
USER node
CMD ["serve", "pc2"]
