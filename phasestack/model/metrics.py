"""What Prometheus reads from the API (issue 14 item 4): podinfo's series by default, the
team's own names, or nothing (an app without /metrics gets no API scrape job, alert or panel
that could only ever be red or empty)."""


from pydantic import Field

from phasestack.model.base import URL_PATH, Spec

METRIC = r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$"
LABEL = r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$"


class ApiMetrics(Spec):
    enabled: bool = Field(True, description="Scrape the API pods' metrics endpoint.")
    port: int | None = Field(None, ge=1, le=65535,
                             description="Port of the metrics endpoint; unset: api.port.")
    path: str = Field("/metrics", pattern=URL_PATH, description="Path of the endpoint.")
    requests_total: str = Field(
        "http_requests_total", pattern=METRIC,
        description="Counter of requests, with the status label (prom-client's histogram "
                    "count works: http_request_duration_seconds_count).")
    status_label: str = Field("status", pattern=LABEL,
                              description="Label of requests_total holding the HTTP status "
                                          "(status_code for prom-client/express).")
    duration_bucket: str | None = Field(
        "http_request_duration_seconds_bucket", pattern=METRIC,
        description="Histogram buckets of request duration (the P99 alert and panel); unset: "
                    "none.")
