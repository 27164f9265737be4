#!/usr/bin/env bash
# The Prometheus server and promtool the integration tests start: the version of the stack's
# image (monitoring.prometheus_image, v2.54.1), built from the Go module proxy (Prometheus 2.x
# releases are its Go module's v0.x). Debian's prometheus package (bookworm: 2.42) is built
# without the Kubernetes service discovery that monitoring.node_metrics' kubelet jobs use, so
# promtool there rejects `kubernetes_sd_configs`. The web UI's assets are not embedded (no
# `builtinassets` tag): the API, rules and scraping are the real code.
# Built once into ${PHASESTACK_PROMETHEUS_HOME:-~/.cache/phasestack}/prometheus-<v>
# (toolchain/go-server.sh); prints the bin directory (prometheus, promtool) on its last line.
set -euo pipefail
NAME=prometheus VERSION=2.54.1
MOD=github.com/prometheus/prometheus@v0.54.1 CACHE="${PHASESTACK_PROMETHEUS_HOME:-}"
COMMANDS=(prometheus promtool)
# shellcheck source=go-server.sh
source "$(dirname "$0")/go-server.sh"
fetch_source
v=github.com/prometheus/common/version
build_all "-s -w -X $v.Version=$VERSION -X $v.Branch=HEAD -X $v.BuildUser=phasestack"
