#!/bin/sh
# Installs ONNX Runtime for Node.js (npm onnxruntime-node, CPU) into
# build/ort, once, for the ONNX tests and `make bench`; prints the directory.
# ONNXRUNTIME_NODE_INSTALL=skip: the package ships its CPU binaries, and its
# install script would otherwise try to download GPU files.
set -e
cd "$(dirname "$0")/.."
VERSION=1.30.0
dir=build/ort
if [ -f "$dir/.installed-$VERSION" ]; then
	echo "$PWD/$dir"
	exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null || {
	echo "ort.sh: node and npm are needed (tools/deps.sh installs them)" >&2
	exit 1
}
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
echo "ort.sh: installing onnxruntime-node@$VERSION into $dir" >&2
(cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error \
	"onnxruntime-node@$VERSION" >&2)
node -e "require('$PWD/$dir/node_modules/onnxruntime-node')" >&2
touch "$dir/.installed-$VERSION"
echo "$PWD/$dir"
