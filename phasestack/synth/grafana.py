"""Grafana: provisioned Prometheus datasource, one dashboard per component, its manifests.

Panel thresholds are the stack's alert thresholds (phasestack.synth.prometheus.thresholds:
review 002 (002_f99052a1f9a0162e.txt), "12. Required Metrics / Monitoring Dashboard
Thresholds", with the stack's error and request rates).
"""

from __future__ import annotations

import json
import re

from phasestack.model import Resources, Stack
from phasestack.synth.common import (
    GRAFANA,
    GRAFANA_SECRET,
    PORTS,
    PROMETHEUS,
    config_hash,
    config_map,
    container,
    deployment,
    dns,
    empty_dir,
    http_probe,
    named,
    pod_spec,
    render_template,
    resources,
    secret_file_env,
    secret_key,
    secret_mount,
    secret_volume,
    service,
)
from phasestack.synth.panels import PANELS, api_panels
from phasestack.synth.prometheus import api_series, jobs, thresholds

COMPONENT = "monitoring"
UID = 472  # grafana/grafana's user
DATASOURCE_UID = "prometheus"
DASHBOARD_DIR = "/etc/grafana/dashboards"
PROVISIONING = "/etc/grafana/provisioning"
CM_DATASOURCES, CM_PROVIDERS, CM_DASHBOARDS = (
    "grafana-datasources", "grafana-dashboard-providers", "grafana-dashboards")
ADMIN_KEY = secret_key("grafanaPassword")  # its key in GRAFANA_SECRET


POD_VAR = "pod"
# a job matcher in a panel's PromQL (panels.py names the job in every selector)
JOB_MATCHER = re.compile(r'job=~?"([^"]*)"')


def scoped(expr: str) -> str:
    """The panel's PromQL limited to the pods the dashboard's pod variable selects."""
    return JOB_MATCHER.sub(lambda m: f'{m.group(0)}, instance=~"${POD_VAR}"', expr)


def pod_variable(exprs: list[str]) -> dict:
    """The dashboard's pod variable: every scraped address (pod IP:port, the `instance` that
    DNS discovery gives) of the dashboard's jobs; All by default."""
    names = sorted({n for e in exprs for m in JOB_MATCHER.finditer(e) for n in m[1].split("|")})
    query = f'label_values(up{{job=~"{"|".join(names)}"}}, instance)'
    return {"name": POD_VAR, "label": "Pod (address)", "query": query}


def _panel(i: int, title, expr, unit, warning, critical, legend, description) -> dict:
    steps = [{"color": "green", "value": None}]
    steps += [{"color": c, "value": v} for c, v in (("orange", warning), ("red", critical))
              if v is not None]
    return {"title": title, "expr": scoped(expr), "unit": unit, "legend": legend,
            "description": description, "steps": steps,
            "threshold_mode": "line" if len(steps) > 1 else "off",
            "x": 12 * (i % 2), "y": 8 * (i // 2)}


def dashboards(stack: Stack) -> dict[str, str]:
    """ConfigMap key (<component>.json) -> dashboard JSON, for the components present.
    The replica panels join the postgres dashboard."""
    present = [j.name for j in jobs(stack)]
    t = thresholds(stack)
    out = {}
    for component in (c for c in present if c != "postgres-replica"):
        rows = api_panels(api_series(stack)) if component == "api" else list(PANELS[component])
        if component == "postgres" and "postgres-replica" in present:
            rows += PANELS["postgres-replica"]
        out[f"{component}.json"] = render_template(
            "grafana/dashboard.json.j2", uid=f"phasestack-{component}",
            title=f"phasestack / {stack.namespace} / {component}", component=component,
            datasource_uid=DATASOURCE_UID, pod=pod_variable([row[1] for row in rows]),
            panels=[_panel(i, *row[:3], *(t.get(x, x) if isinstance(x, str) else x
                                          for x in row[3:5]), *row[5:])
                    for i, row in enumerate(rows)])
    return out


def datasources_yml(stack: Stack, url: str | None = None) -> str:
    return render_template("grafana/datasources.yml.j2", uid=DATASOURCE_UID,
                           url=url or f"http://{dns(stack, PROMETHEUS)}:{PORTS.prometheus}",
                           scrape_interval=stack.monitoring.scrape_interval)


def providers_yml(path: str = DASHBOARD_DIR) -> str:
    return render_template("grafana/dashboards.yml.j2", folder="phasestack",
                           dashboard_path=path)


def manifests(stack: Stack) -> list[dict]:
    if not stack.monitoring.grafana:
        return []
    maps = {CM_DATASOURCES: {"prometheus.yml": datasources_yml(stack)},
            CM_PROVIDERS: {"phasestack.yml": providers_yml()},
            CM_DASHBOARDS: dashboards(stack)}
    port = PORTS.grafana
    # Grafana reads any GF_* setting from the file GF_*__FILE names
    env = [secret_file_env("GF_SECURITY_ADMIN_PASSWORD_", "credentials", ADMIN_KEY),
           {"name": "GF_SECURITY_ADMIN_USER", "value": "admin"},
           {"name": "GF_USERS_ALLOW_SIGN_UP", "value": "false"},
           {"name": "GF_AUTH_ANONYMOUS_ENABLED", "value": "false"},
           {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
           {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"},
           {"name": "GF_LOG_MODE", "value": "console"},  # read-only root: no log files
           {"name": "GF_PATHS_PROVISIONING", "value": PROVISIONING}]
    main = container(
        GRAFANA, stack.monitoring.grafana_image,
        resources(Resources(cpu_request="100m", cpu_limit="500m", memory_request="128Mi",
                            memory_limit="256Mi")),
        {"http": port},
        http_probe("/api/health", "http", delay=15), http_probe("/api/health", "http"),
        env=env,
        volumeMounts=[
            {"name": "datasources", "mountPath": f"{PROVISIONING}/datasources", "readOnly": True},
            {"name": "providers", "mountPath": f"{PROVISIONING}/dashboards", "readOnly": True},
            {"name": "dashboards", "mountPath": DASHBOARD_DIR, "readOnly": True},
            {"name": "data", "mountPath": "/var/lib/grafana"},
            {"name": "tmp", "mountPath": "/tmp"}, secret_mount("credentials")])
    spec = pod_spec(stack, GRAFANA, UID, [main], spread=False, volumes=[
        {"name": "datasources", "configMap": {"name": named(stack, CM_DATASOURCES)}},
        {"name": "providers", "configMap": {"name": named(stack, CM_PROVIDERS)}},
        {"name": "dashboards", "configMap": {"name": named(stack, CM_DASHBOARDS)}},
        empty_dir("data"), empty_dir("tmp"),
        secret_volume("credentials", named(stack, GRAFANA_SECRET), [ADMIN_KEY])])
    return [*(config_map(stack, name, COMPONENT, data, pod=GRAFANA)
              for name, data in maps.items()),
            deployment(stack, GRAFANA, COMPONENT, 1, spec,
                       annotations=config_hash(json.dumps(maps, sort_keys=True))),
            service(stack, GRAFANA, COMPONENT, {"http": port})]
