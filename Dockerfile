# Tessera image. No build step: Node 24 runs the TypeScript sources directly (type stripping).
#   docker build -t tessera .
#   docker run -e MONGODB_URI=... -e REDIS_URL=... -e TESSERA_COOKIE_KEYS=... -p 3000:3000 tessera

# --- deps: production node_modules only -----------------------------------------------------
FROM node:24-slim AS deps
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
# The lockfile is optional. `npm install` rather than `npm ci`: a lockfile written on one platform
# lacks other platforms' optional native binaries (e.g. @node-rs/argon2-linux-arm64-gnu), which
# npm install resolves for the build platform while keeping the locked versions.
COPY package.json package-lock.json* ./
RUN npm install --omit=dev --no-audit --no-fund

# --- runtime ---------------------------------------------------------------------------------
FROM node:24-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
# Files stay owned by root: the service only reads them (it writes nothing to disk).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY config ./config
COPY src ./src
USER node
EXPOSE 3000
# Readiness: 200 only when MongoDB and Redis answer. node itself makes the request (no curl in slim).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Tessera drains in-flight requests on SIGTERM and exits 0 (production shutdown timeout: 25 s).
STOPSIGNAL SIGTERM
CMD ["node", "--disable-warning=ExperimentalWarning", "src/main.ts"]
