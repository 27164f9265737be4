#!/usr/bin/env bash
# The Prometheus server and promtool the integration tests start: the version of the stack's
# image (monitoring.prometheus_image, v3.16.0), built from the Go module proxy (Prometheus 3.x.y
# is its Go module's v0.3xx.y: 3.16.0 is v0.316.0). Debian's prometheus package (bookworm:
# 2.42) is built without the Kubernetes service discovery that monitoring.node_metrics' kubelet
# jobs use, so promtool there rejects `kubernetes_sd_configs`. The web UI's assets are not embedded (no
# `builtinassets` tag): the API, rules and scraping are the real code.
# Built once into ${PHASESTACK_PROMETHEUS_HOME:-~/.cache/phasestack}/prometheus-<v>
# (toolchain/go-server.sh); prints the bin directory (prometheus, promtool) on its last line.
set -euo pipefail
NAME=prometheus VERSION=3.16.0
MOD=github.com/prometheus/prometheus@v0.316.0 CACHE="${PHASESTACK_PROMETHEUS_HOME:-}"
COMMANDS=(prometheus promtool)
# shellcheck source=go-server.sh
source "$(dirname "$0")/go-server.sh"
fetch_source
v=github.com/prometheus/common/version
build_all "-s -w -X $v.Version=$VERSION -X $v.Branch=HEAD -X $v.BuildUser=phasestack"
