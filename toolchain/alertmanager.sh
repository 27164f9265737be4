#!/usr/bin/env bash
# The Prometheus Alertmanager (server + amtool) the integration tests start, built from the Go
# module proxy (GitHub release downloads are unreachable here). `go install .../cmd/alertmanager@v`
# cannot work: ui/web.go embeds ui/app/dist, the compiled web UI, which is not in the module zip
# (building it needs Elm, whose compiler comes from GitHub). So the module is copied out and a
# placeholder page stands in for the UI; the API, routing and notifiers are the real code.
# Built once into ${PHASESTACK_ALERTMANAGER_HOME:-~/.cache/phasestack}/alertmanager-<v>
# (toolchain/go-server.sh); prints the bin directory (alertmanager, amtool) on its last line.
set -euo pipefail
NAME=alertmanager VERSION=0.35.0  # its go.mod asks for go 1.26.0
MOD=github.com/prometheus/alertmanager@v$VERSION CACHE="${PHASESTACK_ALERTMANAGER_HOME:-}"
COMMANDS=(alertmanager amtool)
# shellcheck source=go-server.sh
source "$(dirname "$0")/go-server.sh"
fetch_source
cd "$work/src"
# the module's .info Time (the tag's date) stands in for promu's build date
stamp="$(python3 -c '
import datetime, json, sys
m = json.loads(sys.argv[1])
t = datetime.datetime.fromisoformat(json.load(open(m["Info"]))["Time"].replace("Z", "+00:00"))
print(t.strftime("%Y%m%d-%H:%M:%S"))' "$info")"

# ui/web.go: `//go:embed app/dist`, served from app/dist/elm (/) and app/dist/mantine (/ui/).
# Like the real build (vite.config.mjs), .html/.ico must exist as <name>.gz and <name>.br: it
# never serves the plain file, and a client accepting br (every browser) gets a 404 without .br.
# No brotli encoder is at hand, so the .br is a valid stream of stored (uncompressed) blocks.
# (template/template.go's embeds, default.tmpl and email.tmpl, ship in the zip.)
python3 - "$VERSION" <<'PY'
import gzip, os, sys
def brotli_stored(data):  # RFC 7932: WBITS=16, uncompressed meta-blocks, empty last block
    out, acc, n = bytearray(), 0, 1  # one 0 bit: WBITS=16
    for i in range(0, len(data), 1 << 15):
        chunk = data[i:i + (1 << 15)]
        # ISLAST=0, MNIBBLES=4, MLEN-1 (16 bits), ISUNCOMPRESSED=1, then pad to a byte
        acc |= ((len(chunk) - 1) << 3 | 1 << 19) << n; n += 20
        out += acc.to_bytes((n + 7) // 8, "little") + chunk; acc, n = 0, 0
    return bytes(out + bytes([(acc | 0b11 << n) & 0xFF]))  # ISLAST=1, ISLASTEMPTY=1
page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Alertmanager</title></head>'
        f'<body><p>Alertmanager {sys.argv[1]} built without its web UI (phasestack toolchain): '
        f'use the API, /api/v2/.</p></body></html>\n').encode()
files = {"elm/index.html": page, "mantine/index.html": page,
         "elm/favicon.ico": open("ui/app/public/favicon.ico", "rb").read()}
for name, data in files.items():
    path = os.path.join("ui/app/dist", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path + ".gz", "wb").write(gzip.compress(data, 9, mtime=0))
    open(path + ".br", "wb").write(brotli_stored(data))
PY

# the ldflags promu (.promu.yml) stamps; netgo as the release builds use
v=github.com/prometheus/common/version
build_all "-s -w -X $v.Version=$VERSION -X $v.Branch=HEAD -X $v.BuildUser=phasestack -X $v.BuildDate=$stamp"
