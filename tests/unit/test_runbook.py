"""Runbook steps say only what changes, with the planner's figures (issue 12 items 4 and 11)."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.phases import preset
from phasestack.stackfile import deep_merge
from phasestack.transitions import runbook


def stack(phase: str, **override) -> Stack:
    return Stack.model_validate(deep_merge(preset(phase), {"phase": phase, "namespace": "t",
                                                            **override}))


def steps(a: Stack, b: Stack) -> dict[str, runbook.Step]:
    return {s.title: s for s in runbook.runbook(a, b, "a", "b").steps}


def text(a: Stack, b: Stack) -> str:
    return "\n".join(" ".join([s.title, *s.what, *s.risks])
                     for s in runbook.runbook(a, b, "a", "b").steps)


def test_api_step_fits_the_change():
    fixed = stack("phase1", api={"replicas": 14, "hpa": {"enabled": False}})
    pinned = stack("phase1", api={"hpa": {"enabled": True, "min_replicas": 14,
                                          "max_replicas": 14}})
    step = steps(fixed, pinned)["API: 14 fixed pod(s) -> HPA 14-14 at 70% CPU"]
    assert step.what == ["The API runs 14 pods; at the top they open api pods 14 x app_pool 20 "
                         "= 280 database client connections."]
    # the minimum did not change: no "starts N pods" risk; the HPA does need metrics-server
    assert not [r for r in step.risks if "Raising the minimum" in r]
    assert any("metrics-server" in r for r in step.risks)
    back = steps(pinned, fixed)["API: HPA 14-14 at 70% CPU -> 14 fixed pod(s)"]
    assert not [r for r in back.risks if "metrics-server" in r or "Raising" in r]
    assert back.commands == ['kubectl apply -n "$NS" -f out/next/ -l '
                             "app.kubernetes.io/component=api"]


def test_no_pgbouncer_no_pgbouncer_text():
    a = stack("mvp")
    b = stack("mvp", app={"app_pool_per_pod": 10})
    step = steps(a, b)["Re-derive pool sizes"]
    assert step.what[0] == "app pool per pod: 50 -> 10"
    assert step.risks == [] and "PgBouncer" not in text(a, b)
    restart = stack("mvp", postgres={"max_connections": 300})
    body = text(a, restart)
    assert "the primary restarts" in body and "query_wait_timeout" not in body
    assert "PgBouncer" not in body


def test_nginx_hpa_bounds_changed_while_off_is_no_step():
    a = stack("phase1")
    b = stack("phase1", nginx={"hpa": {"enabled": False, "min_replicas": 4, "max_replicas": 8}})
    assert "nginx" not in steps(a, b) and "off -> off" not in text(a, b)


def test_workers_get_a_step_with_the_planners_connection_figure():
    a = stack("phase2")
    b = stack("phase2", api={"workers": [{"name": "mail", "replicas": 3}]})
    step = steps(a, b)["Queue workers"]
    # the planner counts the workers' pools too: (20 + 3) x 20 = 460, not 20 x 20 = 400
    assert step.what == ["worker-mail: none -> 3 pod(s)",
                         "With the API at its ceiling the pools open (api pods 20 + worker pods "
                         "3) x app_pool 20 = 460 database client connections."]
    assert step.commands == ['kubectl apply -n "$NS" -f out/next/ -l '
                             "app.kubernetes.io/name=worker-mail"]
    gone = steps(b, a)["Queue workers"]
    assert gone.what[0] == "worker-mail: 3 pod(s) -> none"
    assert gone.commands == ['kubectl delete -n "$NS" deployment/worker-mail   # without Pulumi']
    assert gone.risks == ["Jobs the removed worker-mail consumed wait in their queue until "
                          "another consumer takes them."]
    pool = steps(a, b)["Re-derive pool sizes"]
    assert "pods opening a pool: api pods 20 -> (api pods 20 + worker pods 3)" in pool.what


def test_a_target_change_is_the_biggest_change_not_zero():
    """Issue 12 item 3: docker -> kubernetes printed "0 changed" and kubectl steps."""
    from phasestack.stackfile import load
    from phasestack.transitions import diff as diffing
    a, b = load("mvp-docker").stack, load("mvp").stack
    d = diffing.diff(a, b, "mvp-docker", "mvp")
    assert d.target == ("docker", "kubernetes") and not d.removed and not d.changed
    assert len(d.added) == len(diffing.normalise(b))
    assert diffing.summary(d).startswith(
        "target docker -> kubernetes: every component is deployed anew and the data moves by "
        "dump and restore; Kubernetes resources ")
    assert diffing.as_json(d)["target"] == {"from": "docker", "to": "kubernetes"}
    titles = [s.title for s in runbook.runbook(a, b, "mvp-docker", "mvp").steps]
    assert titles == ["Build the kubernetes side next to the docker one",
                      "Stop writes on `mvp-docker` (downtime starts)",
                      "Move PostgreSQL: pg_dump, pg_restore", "Redis: drained, not copied",
                      "Cut over to `mvp`"]
    back = runbook.runbook(b, a, "mvp", "mvp-docker").steps
    assert back[2].commands[0].startswith('kubectl exec -n "$NS" postgres-0 -c postgres -- '
                                          "pg_dump -U postgres -Fc app")
    assert back[2].commands[1].startswith("docker exec -i -u postgres ps-mvp-docker-postgres ")
    assert diffing.diff(b, b).target is None


def redis_step(a: Stack, b: Stack) -> runbook.Step:
    [s] = [s for s in runbook.runbook(a, b, "a", "b").steps if s.component == "redis"]
    return s


def test_cluster_shrink_is_commands_not_a_template():
    """Issue 12 item 10: the shrink step printed `<node-id>` placeholders; the commands now
    read IDs and roles at run time (executed on real servers in test_runbook_commands)."""
    s = redis_step(stack("phase3"), stack("phase2"))
    assert not [c for c in s.commands if "<" in c.replace("< 9", "")], s.commands
    assert s.what[0] == ("6 masters -> 3: every slot moves onto redis-0..redis-2 (rebalance "
                         "with weight 0 for the others); redis-6, redis-7, redis-8, redis-9, "
                         "redis-10, redis-11 leave the cluster (del-node), then the StatefulSet "
                         "scales down to 6 pod(s) and their volumes are deleted.")
    assert ('kubectl delete pvc -n "$NS" data-redis-6 data-redis-7 data-redis-8 data-redis-9 '
            "data-redis-10 data-redis-11 --ignore-not-found") in s.commands
    # the removed pods leave one by one, the highest first
    dels = [c for c in s.commands if "--cluster del-node" in c]
    assert [c.rsplit("ip redis-", 1)[1].split(")")[0] for c in dels] == [
        "11", "10", "9", "8", "7", "6"]


def test_cluster_to_standalone_keeps_redis_0s_data():
    s = redis_step(stack("phase2"), stack("phase1"))
    assert s.title.startswith("Redis: cluster 3 masters x 1 replica(s) (6 pods")
    assert s.what[-1] == ("redis-0, left the only master with all 16384 slots, restarts as a "
                          "standalone Redis on the same volume: its AOF holds every key. The "
                          "API switches from REDIS_CLUSTER_NODES to REDIS_URL.")
    assert not [c for c in s.commands if "redis-cluster-bootstrap" in c and "apply" in c]


def test_more_replicas_and_fewer_masters_on_more_pods():
    more = stack("phase2", redis={"replicas_per_master": 2})
    s = redis_step(stack("phase2"), more)
    assert s.what[0] == ("The StatefulSet grows to 9 pods; the bootstrap Job, run again, adds "
                         "redis-6..redis-8 as replicas (no slot moves).")
    odd = stack("phase3", redis={"masters": 3, "replicas_per_master": 4})
    s = redis_step(stack("phase3"), odd)
    assert (s.what, s.commands) == (["Fewer masters on more pods is two transitions: first to "
                                     "3 masters on at most 12 pods (this runbook's shrink), "
                                     "then more replicas."], [])


def test_moving_to_a_managed_postgresql_and_back():
    managed = {"external": {"host": "db.example.internal", "password_secret": "shop-db"}}
    inside = stack("phase1", api={"workers": [{"name": "mail"}]})
    outside = stack("phase1", api={"workers": [{"name": "mail"}]}, postgres=managed)
    there = steps(inside, outside)["PostgreSQL: in the cluster -> managed (db.example.internal)"]
    assert there.moves_data
    assert there.commands == [
        'kubectl scale -n "$NS" deployment/api --replicas=0   # writes stop here',
        'kubectl scale -n "$NS" deployment/worker-mail --replicas=0   # writes stop here',
        'kubectl exec -n "$NS" postgres-0 -c postgres -- pg_dump -U postgres -Fc app > app.dump',
        "pg_restore -h db.example.internal -p 5432 -U app -d app --no-owner --role=app -W "
        "app.dump",
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=pgbouncer',
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=api',
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=worker',
        # the HPA's API has no replicas in its manifest and an HPA does not scale up from 0
        'kubectl scale -n "$NS" deployment/api --replicas=2',
        'kubectl scale -n "$NS" deployment/worker-mail --replicas=1',
        'kubectl rollout status -n "$NS" deployment/api',
        'kubectl rollout status -n "$NS" deployment/worker-mail']
    assert any("Secret shop-db" in w for w in there.what)
    assert any("AWS DMS" in w for w in there.what)  # the no-downtime way, named
    back = steps(outside, inside)["PostgreSQL: managed (db.example.internal) -> in the cluster"]
    assert back.commands[0] == ('kubectl apply -n "$NS" -f out/next/ -l '
                                "app.kubernetes.io/component=postgres")
    # the backup in Prepare dumps the managed endpoint, not a postgres-0 that is not there
    prep = steps(outside, inside)["Prepare: plan, render, back up"]
    assert prep.commands[2].startswith("pg_dump -h db.example.internal -p 5432 -U app -Fc -W")
    assert not [c for s in runbook.runbook(outside, inside, "a", "b").steps
                if s.title.startswith("PostgreSQL: read replicas") for c in s.commands]


def test_existing_credentials_are_checked_not_exported():
    team = stack("phase1", credentials="existing")
    (step,) = [s for s in runbook.runbook(stack("mvp"), team, "a", "b").steps
               if s.component == "credentials"]
    assert step.title == "Credentials: the team's Secrets"
    assert step.commands == ['kubectl get secret -n "$NS" postgres-credentials '
                             "redis-credentials grafana-credentials"]
    assert not [c for c in step.commands if "export" in c]


def test_moving_redis_to_a_managed_one_states_the_session_loss():
    cache = {"external": {"host": "c.example.cache", "password_secret": "cache"}}
    inside, outside = stack("phase1"), stack("phase1", redis=cache)
    there = steps(inside, outside)["Redis: in the cluster -> managed (c.example.cache)"]
    assert there.moves_data and any("session-loss window" in w for w in there.what)
    assert there.commands[0] == ('kubectl exec -n "$NS" redis-0 -c redis -- redis-cli --rdb '
                                 "/data/move.rdb")
    assert "Redis: managed (c.example.cache) -> in the cluster" in steps(outside, inside)
    assert not [t for t in steps(inside, outside) if t.startswith("Redis: standalone")]


MIGRATE = {"migration": {"enabled": True, "command": ["npx", "prisma", "migrate", "deploy"]}}
WAIT = ('kubectl wait -n "$NS" --for=condition=complete --timeout=900s job -l '
        "app.kubernetes.io/component=migration")


def test_a_new_migration_runs_before_any_step_rolls_the_api():
    """phase1 -> phase2 with a new image: the Redis Cluster step re-applies the API for its new
    URL; the migration must have run before that, not after (issue 14 item 5)."""
    old = stack("phase1", api=MIGRATE)
    new = stack("phase2", api={**MIGRATE, "image": "ghcr.io/stefanprodan/podinfo:6.7.2"})
    titles = [s.title for s in runbook.runbook(old, new, "a", "b").steps]
    rolls = [i for i, s in enumerate(runbook.runbook(old, new, "a", "b").steps)
             if runbook._rolls_app(s)]
    assert titles.index("Schema migration") < rolls[0], titles


def test_a_postgresql_move_migrates_between_the_restore_and_the_rollout():
    managed = {"external": {"host": "db.example.internal", "password_secret": "shop-db"}}
    old = stack("phase1", api=MIGRATE)
    new = stack("phase1", api={**MIGRATE, "image": "ghcr.io/stefanprodan/podinfo:6.7.2"},
                postgres=managed)
    all_steps = runbook.runbook(old, new, "a", "b").steps
    assert "Schema migration" not in [s.title for s in all_steps]
    (move,) = [s for s in all_steps if s.title.startswith("PostgreSQL: in the cluster")]
    restore = next(i for i, c in enumerate(move.commands) if c.startswith("pg_restore"))
    assert move.commands[restore + 1:restore + 3] == [
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=migration', WAIT]
    assert move.commands[restore + 3].endswith("component=pgbouncer")


CACHE = {"external": {"host": "c.example.cache", "password_secret": "cache"}}


def test_a_cluster_is_snapshotted_on_every_master():
    inside = stack("phase2")
    outside = stack("phase2", redis=CACHE)
    there = steps(inside, outside)["Redis: in the cluster -> managed (c.example.cache)"]
    loop = there.commands[0]
    assert loop.startswith("for p in redis-0 redis-1 redis-2 redis-3 redis-4 redis-5; do ")
    assert "grep -qx master" in loop and '"$p:/data/move.rdb" "$p.rdb"' in loop


def test_moving_both_stores_snapshots_redis_while_the_writers_are_stopped():
    db = {"external": {"host": "db.example.internal", "password_secret": "shop-db"}}
    both = steps(stack("phase1"), stack("phase1", postgres=db, redis=CACHE))
    pg = both["PostgreSQL: in the cluster -> managed (db.example.internal)"].commands
    stop = max(i for i, c in enumerate(pg) if "--replicas=0" in c)
    assert pg[stop + 1].endswith("redis-cli --rdb /data/move.rdb")
    assert pg.index(next(c for c in pg if c.endswith("component=api"))) > stop + 2
    redis_step = both["Redis: in the cluster -> managed (c.example.cache)"]
    assert redis_step.commands == []  # its snapshot and rollout are the PostgreSQL step's
    assert any("taken in its step" in w for w in redis_step.what)


def test_a_redis_move_rolls_the_workers_onto_the_managed_redis_too():
    inside = stack("phase1", api={"workers": [{"name": "mail"}]})
    outside = stack("phase1", api={"workers": [{"name": "mail"}]}, redis=CACHE)
    there = steps(inside, outside)["Redis: in the cluster -> managed (c.example.cache)"]
    assert there.commands[-4:] == [
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=api',
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=worker',
        'kubectl rollout status -n "$NS" deployment/api',
        'kubectl rollout status -n "$NS" deployment/worker-mail']
    assert any("before the rollout below" in w for w in there.what)


def test_an_orphaning_delete_does_not_count_as_rolling_the_api():
    from phasestack.transitions.runbook import Step, _rolls_app

    assert not _rolls_app(Step("x", "api", [], ['kubectl delete -n "$NS" deployment/api '
                                                "--cascade=orphan"]))
    assert _rolls_app(Step("x", "api", [], ['kubectl rollout status -n "$NS" deployment/api']))
