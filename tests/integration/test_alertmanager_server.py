"""The rendered alertmanager.yml on the real Alertmanager 0.35 (toolchain/alertmanager.sh):
amtool accepts it, and the server routes each severity to the receivers that take it, reading
each receiver's URL from its Secret's file, as the pod mounts it (issue 15 item 2)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from phasestack.model import Stack
from phasestack.stackfile import load
from phasestack.synth import alertmanager
from tests.integration.conftest import alertmanager_bin, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def write_config(stack: Stack, where: Path, credentials: dict[str, str]) -> Path:
    """alertmanager.yml with its Secret files under `where` (receiver name -> file text)."""
    for r in stack.monitoring.alerting.receivers:
        path = Path(alertmanager.credential_file(r, str(where)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(credentials[r.name])
    config = where / "alertmanager.yml"
    config.write_text(alertmanager.alertmanager_yml(stack, secrets_dir=str(where)))
    return config


def amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(alertmanager_bin() / "amtool"), *args], capture_output=True,
                          text=True, timeout=60)


def test_shop_config_passes_amtool_and_holds_no_credential(tmp_path):
    stack = load("shop", ROOT).stack
    key = "R0UT1NGKEY0000000000000000000042"
    config = write_config(stack, tmp_path, {"oncall": key,
                                            "team": "https://hooks.slack.com/services/T/B/x"})
    result = amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found:\n - global config\n - route\n - 0 inhibit rules\n - 3 receivers" in \
        result.stdout
    text = config.read_text()
    assert key not in text and "hooks.slack.com" not in text
    # a typo in a receiver field is an error, not a silently ignored key
    config.write_text(text.replace("routing_key_file", "routing_key_fil"))
    assert amtool("check-config", str(config)).returncode != 0


class Hooks(ThreadingHTTPServer):
    """Receives the webhook and Slack posts: path -> [JSON bodies]."""

    def __init__(self, port: int):
        self.got: dict[str, list[dict]] = {}
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.got.setdefault(self.path, []).append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", port), Handler)


def post_alerts(port: int, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/alerts", data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


@pytest.fixture
def hooks():
    server = Hooks(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_each_severity_reaches_exactly_its_receivers(tmp_path, hooks):
    """A page-only webhook (critical) and a Slack channel for warnings: each alert reaches the
    receiver of its severity, with the URLs read from the Secret files, and a receiver's
    delivery failure (AlertmanagerNotificationsFailing) reaches both."""
    stack = Stack.for_phase("phase1", namespace="shop", monitoring={"alerting": {
        "alertmanager": True, "group_wait": "1s", "group_interval": "1s",
        "receivers": [
            {"name": "pager", "kind": "webhook", "secret": "alerting", "key": "pager-url",
             "severities": ["critical"]},
            {"name": "team", "kind": "slack", "secret": "alerting", "key": "slack-url",
             "channel": "#shop-alerts", "severities": ["warning"]}]}})
    hook = f"http://127.0.0.1:{hooks.server_port}"
    config = write_config(stack, tmp_path, {"pager": f"{hook}/pager\n",
                                            "team": f"{hook}/slack"})
    assert amtool("check-config", str(config)).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [str(alertmanager_bin() / "alertmanager"), f"--config.file={config}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{port}/-/ready", timeout=1).status == 200, what="alertmanager")
        labels = {"namespace": "shop"}
        post_alerts(port, [
            {"labels": {**labels, "alertname": "ScrapeTargetDown", "severity": "critical"},
             "annotations": {"summary": "redis target is down", "description": "unscraped"}},
            {"labels": {**labels, "alertname": "RedisMemoryWarning", "severity": "warning"},
             "annotations": {"summary": "Redis memory above 60%", "description": "grows"}},
            {"labels": {**labels, "alertname": "AlertmanagerNotificationsFailing",
                        "severity": "critical", "receiver_name": "pager"},
             "annotations": {"summary": "Alertmanager cannot notify pager", "description": "-"}}])
        wait_for(lambda: len(hooks.got.get("/slack", [])) >= 2
                 and len(hooks.got.get("/pager", [])) >= 2, timeout=30, what="notifications")
        pages = {a["labels"]["alertname"] for m in hooks.got["/pager"] for a in m["alerts"]}
        assert pages == {"ScrapeTargetDown", "AlertmanagerNotificationsFailing"}
        assert all(m["receiver"] == "pager" and m["status"] == "firing"
                   for m in hooks.got["/pager"])
        slack = {m["attachments"][0]["title"]: m for m in hooks.got["/slack"]}
        assert set(slack) == {"[FIRING] RedisMemoryWarning (warning, shop)",
                              "[FIRING] AlertmanagerNotificationsFailing (critical, shop)"}
        assert all(m["channel"] == "#shop-alerts" for m in slack.values())
        assert slack["[FIRING] RedisMemoryWarning (warning, shop)"]["attachments"][0][
            "text"] == "Redis memory above 60%: grows\n"
        time.sleep(2)  # group_interval 1s: anything else routed would have arrived by now
        assert len(hooks.got["/pager"]) == 2 and len(hooks.got["/slack"]) == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        # what AlertmanagerNotificationsFailing and the dashboard read
        assert 'alertmanager_notifications_failed_total{integration="webhook"' in metrics
        assert 'alertmanager_notifications_total{integration="slack"' in metrics
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert b"level=ERROR" not in err, err.decode()[-2000:]
