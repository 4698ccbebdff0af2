# Scintilla Orchestrator: `orchestrator serve` in a small, non-root Node.js image.
# Build: docker build -t scintilla-orchestrator .
# Run:   docker run --env-file .env -p 3000:3000 -v orchestrator-data:/data scintilla-orchestrator

# Build stage: all dependencies, compile TypeScript to dist/.
FROM node:24.21-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# --ignore-scripts: `prepare` compiles, and the sources are not copied yet.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled code only.
FROM node:24.21-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` needs tsc, which is a dev dependency; dist/ comes from the build stage.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && mkdir -p /data \
    && chown node:node /data
COPY --from=build /app/dist ./dist
COPY app.yml routing-policy.yaml ./
# The default policy's scripted provider replays these responses (offline demos).
COPY routing ./routing
# The image's built-in unprivileged user; the code is root-owned and read-only to it.
USER node
VOLUME ["/data"]
EXPOSE 3000
# slim has no curl: Node's own fetch asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/cli.js", "serve"]
