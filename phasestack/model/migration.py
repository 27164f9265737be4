"""The schema migration run before each API rollout (issue 14 item 5): a Job with the API's
image, environment and Secrets, e.g. `npx prisma migrate deploy` (review 000, Deployment
Checklist: "Run database migrations" before the services start)."""


from pydantic import Field, model_validator

from phasestack.model.base import Resources, Spec


class Migration(Spec):
    enabled: bool = Field(False, description="Run the migration Job before the API rolls out.")
    command: list[str] = Field(
        default_factory=list,
        description="The migration command, run with the API image (e.g. [npx, prisma, "
                    "migrate, deploy]); required when enabled.")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    timeout_s: int = Field(
        900, ge=30, le=86_400,
        description="Longest the Job may run, retries included (activeDeadlineSeconds); "
                    "`pulumi up` waits as long before it fails.")
    backoff_limit: int = Field(
        4, ge=0, le=20,
        description="Failed runs retried (a first install may start it before PostgreSQL "
                    "accepts logins).")
    resources: Resources = Field(default_factory=Resources,
                                 description="Migration pod resources.")

    @model_validator(mode="after")
    def _command(self) -> "Migration":
        if self.enabled and not self.command:
            raise ValueError("command: required when enabled (the migration to run with the "
                             "API image, e.g. [npx, prisma, migrate, deploy])")
        return self
