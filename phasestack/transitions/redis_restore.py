"""Restoring Redis from its snapshots in object storage (redis.backup, issue 16 item 3): the
script `phasestack restore STACK --time T --redis` prints. Pure.

It takes the newest complete snapshot (one with its `done` marker, templates/redis/snapshot.sh.j2)
at or before T and streams each of its RDB files into redis-0, where a temporary server serves
it on 127.0.0.1:6390 (the standalone -> Cluster runbook's way, transitions.steps):
- standalone: the live server replicates from it (a full sync replaces its keys and rewrites
  its AOF), then is promoted back;
- cluster: `redis-cli --cluster import` copies each master's keys into the live cluster's
  slots (MIGRATE COPY REPLACE), whatever its masters are now.
tests/integration/test_redis_snapshot.py runs this very script against real servers.
"""

from __future__ import annotations

import shlex
import textwrap

from phasestack.errors import PhasestackError
from phasestack.model import Stack
from phasestack.synth import redis_snapshot
from phasestack.transitions.steps import (
    EXPORT,
    IMPORT,
    POD,
    RCLI,
    snapshot_server,
    snapshot_server_stop,
)

RESTORE_FILE = "restore.rdb"


def compact(time: str) -> str:
    """2026-12-04T09:30:00Z -> 20261204T093000Z, the snapshots' folder names."""
    return time.replace("-", "").replace(":", "")


def _replace(stack: Stack) -> list[str]:
    """Inside redis-0, with the snapshot served on 6390: its keys into the live server."""
    if stack.redis.mode == "cluster":
        return [*snapshot_server(RESTORE_FILE), IMPORT, snapshot_server_stop()]
    synced = (f"{POD}sh -c 'for i in $(seq 600); do redis-cli -p 6379 INFO replication "
              "| grep -q master_link_status:up && exit 0; sleep 1; done; "
              "echo the full sync did not finish >&2; exit 1'")
    return [*snapshot_server(RESTORE_FILE, password=True),
            f"{RCLI} -p 6379 REPLICAOF 127.0.0.1 6390", synced,
            f"{RCLI} -p 6379 REPLICAOF NO ONE", snapshot_server_stop(password=True)]


def script(stack: Stack, name: str, time: str) -> str:
    """A bash script (kubectl and aws on PATH, NS set by it)."""
    b = stack.redis.backup
    if not stack.runs("redis") or b is None:
        raise PhasestackError("restore --redis needs a redis.backup section (the snapshots "
                              "to restore from)")
    s = b.store
    endpoint = f" --endpoint-url {shlex.quote(s.endpoint_url)}" if s.endpoint_url else ""
    src, t = redis_snapshot.destination(b), compact(time)
    lines = "\n".join(f"  {c}" for c in _replace(stack))
    how = ("replicates from it, then is promoted back (writes fail with READONLY meanwhile); "
           "the full sync replaces every key, so writes since the snapshot are lost"
           if stack.redis.mode == "standalone" else
           "gets its keys by `redis-cli --cluster import` (MIGRATE COPY REPLACE); keys "
           "written since the snapshot keep their newer value unless the snapshot holds them")
    about = textwrap.fill(
        f"Restore {name}'s Redis ({stack.redis.mode}) to its newest complete snapshot at or "
        f"before {time}, from {src}/. Each RDB file is streamed into redis-0 and served there "
        f"on 127.0.0.1:6390; the live Redis {how}. Needs kubectl and aws (the AWS CLI); "
        "the temporary server needs memory beside redis-0 under its "
        f"{stack.redis.resources.memory_limit} limit.", 96, initial_indent="# ",
        subsequent_indent="# ", break_on_hyphens=False, break_long_words=False)
    return f"""\
#!/usr/bin/env bash
{about}
set -euo pipefail
NS={shlex.quote(stack.namespace)}
{EXPORT.format(var="AWS_ACCESS_KEY_ID", secret=s.credentials_secret, key=s.access_key_id_key)}
{EXPORT.format(var="AWS_SECRET_ACCESS_KEY", secret=s.credentials_secret,
               key=s.secret_access_key_key)}
export AWS_DEFAULT_REGION="${{AWS_DEFAULT_REGION:-{redis_snapshot.REGION}}}"
s3() {{ aws s3{endpoint} "$@"; }}
SRC={shlex.quote(src)}
stamp="$(s3 ls --recursive "$SRC/" | awk '{{print $4}}' \\
  | sed -n 's#^.*/\\([0-9]\\{{8\\}}T[0-9]\\{{6\\}}Z\\)/done$#\\1#p' \\
  | awk -v t={t} '$1 <= t' | sort | tail -n 1)"
if [ -z "$stamp" ]; then
  echo "no complete Redis snapshot at or before {time} in $SRC/" >&2
  exit 1
fi
echo "restoring the Redis snapshot $SRC/$stamp/"
for f in $(s3 ls "$SRC/$stamp/" | awk '$4 ~ /\\.rdb$/ {{print $4}}'); do
  echo "  $f"
  s3 cp --only-show-errors "$SRC/$stamp/$f" - \\
    | {POD.replace("exec -n", "exec -i -n")}sh -c 'cat > /data/{RESTORE_FILE}'
{lines}
  {POD}rm -f /data/{RESTORE_FILE}
done
echo "restored $SRC/$stamp/"
"""
