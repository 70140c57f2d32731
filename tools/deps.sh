#!/bin/sh
# Installs the Debian packages tfswa needs to build and test. Idempotent: does
# nothing when everything is already there.
set -e
PKGS="build-essential pkg-config libsndfile1-dev libfftw3-dev libblis-serial-dev
libmsgpack-dev libsoxr-dev bats bats-assert bats-support sox clang
libclang-rt-14-dev python3-numpy python3-msgpack python3-torch parallel python3-onnx
fluidsynth libfluidsynth-dev fluid-soundfont-gm gnuplot-nox libpng-dev file valgrind
musescore-general-soundfont-small opl3-soundfont timgm6mb-soundfont"
# node and npm run ONNX Runtime for the ONNX tests (tools/ort.sh); any install of them will do
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
