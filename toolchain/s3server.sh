#!/usr/bin/env bash
# The S3-compatible object store the backup/PITR tests archive to: Versity's S3 gateway
# (versitygw), which serves buckets as directories of a POSIX file system
# (`versitygw --access K --secret S --port 127.0.0.1:P posix DIR`), plain HTTP, path-style and
# virtual-host addressing, SigV4 (what boto3 and so barman-cloud send). Built from the Go module
# proxy (GitHub release downloads are unreachable here); the proxy serves v1.8.0 only. The web
# UI's pages ship in the module zip (webui/web), so a plain build of ./cmd/versitygw works.
# Built once into ${PHASESTACK_S3_HOME:-~/.cache/phasestack}/versitygw-<v>
# (toolchain/go-server.sh); prints the bin directory (versitygw) on its last line.
set -euo pipefail
NAME=versitygw VERSION=1.8.0  # its go.mod asks for go 1.25.0
MOD=github.com/versity/versitygw@v$VERSION CACHE="${PHASESTACK_S3_HOME:-}"
COMMANDS=(versitygw)
# shellcheck source=go-server.sh
source "$(dirname "$0")/go-server.sh"
fetch_source
# the module's .info Time (the tag's date) stands in for the Makefile's build time
stamp="$(python3 -c '
import json, sys
print(json.load(open(json.loads(sys.argv[1])["Info"]))["Time"])' "$info")"
# the ldflags the Makefile stamps (Build is the commit hash there; the module zip has none)
build_all "-s -w -X main.Version=v$VERSION -X main.Build=module -X main.BuildTime=$stamp"
