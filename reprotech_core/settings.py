"""The platform's settings: one typed model, read from a TOML file and the environment.

Order of precedence (highest first): environment variables ``REPROTECH_<NAME>``, the settings
file (``REPROTECH_CONFIG``, default ``config/reprotech.toml`` under the project home when it
exists), then the defaults below. Secrets (database URLs with passwords) come only from the
environment or from a file readable by its owner alone (mode 0600): a secret in the TOML file
is refused, so it cannot end up in the repository.

Every field carries a description; ``docs/settings.md`` is generated from them
(``reprotech settings docs``) and a test fails when it is out of date.
"""

from __future__ import annotations

import os
import stat
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_HOME = Path(__file__).resolve().parent.parent
"""The checkout the package runs from; the default home of data and configuration."""

AUDIT_RETENTION_FLOOR_MONTHS = 12
"""Audit-log retention never keeps fewer months than this (accounting and security reviews
look back at least a year); ``audit_retention_months`` and ``--keep-months`` are checked
against it."""

SECRET_FIELDS = frozenset({"database_url", "database_admin_url", "database_backup_url",
                           "hub_oidc_client_secret", *"""metrics_token dashboards_api_token
                           dashboards_cookie_secret""".split()})


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the message names the setting."""


def _config_file() -> Path:
    explicit = os.environ.get("REPROTECH_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(f"REPROTECH_CONFIG points to {path}, which is not a file")
        return path
    return Path(os.environ.get("REPROTECH_HOME", PROJECT_HOME)) / "config" / "reprotech.toml"


class _SecretFreeToml(TomlConfigSettingsSource):
    """The settings file, refusing secrets so they never land in a committed file."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        leaked = sorted(SECRET_FIELDS & set(data))
        if leaked:
            raise SettingsError(
                f"{', '.join(leaked)} must not be in the settings file {self.toml_file_path}: "
                "give secrets as environment variables or *_file pointing to a 0600 file"
            )
        return data


class Settings(BaseSettings):
    """Reprotech platform settings (see docs/settings.md)."""

    model_config = SettingsConfigDict(
        env_prefix="REPROTECH_", extra="forbid", validate_default=True, frozen=True
    )

    home: Path = Field(
        default=PROJECT_HOME,
        description="Project home: where `config/` and, by default, the data folder live.",
    )
    data_dir: Path | None = Field(
        default=None,
        description="Folder for the embedded database, secrets and genotype store "
        "(default: `<home>/var`).",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="External PostgreSQL (>= 15) URL for the application login "
        "(`postgresql://reprotech_app:…@host/db`). Unset: the embedded cluster is used. Secret: "
        "environment only.",
    )
    database_url_file: Path | None = Field(
        default=None,
        description="A 0600 file holding `database_url` (alternative to the environment variable).",
    )
    database_admin_url: SecretStr | None = Field(
        default=None,
        description="External PostgreSQL URL of a role that may create roles and own the schema "
        "(used by `reprotech db migrate` and `reprotech ops audit-retention` only, never by the "
        "application). Secret: environment only.",
    )
    database_admin_url_file: Path | None = Field(
        default=None, description="A 0600 file holding `database_admin_url`."
    )
    database_backup_url: SecretStr | None = Field(
        default=None,
        description="External PostgreSQL URL of the backup login `reprotech_backup` (BYPASSRLS, "
        "read-only through `pg_read_all_data`; see docs/operations.md). Unset with an external "
        "database: backups use the admin URL. Secret: environment only.",
    )
    database_backup_url_file: Path | None = Field(
        default=None, description="A 0600 file holding `database_backup_url`."
    )
    backup_dir: Path | None = Field(
        default=None,
        description="Folder of the backups (default: `<data_dir>/backups`); put it on another "
        "disk, and copy it off the machine.",
    )
    backup_keep: int = Field(
        default=7, ge=1, le=1000,
        description="Verified backups kept; older ones are deleted after a new one verifies.",
    )
    signin_max_failures: int = Field(
        default=5, ge=1, le=100,
        description="Failed sign-ins of one username within `signin_failure_window_minutes` "
        "that lock it out (local sign-in; recorded in the database, so every hub process agrees).",
    )
    signin_max_failures_per_source: int = Field(
        default=50, ge=1, le=10_000,
        description="Failed sign-ins from one address (any usernames) within the window that "
        "lock that address out: slows password spraying.",
    )
    signin_failure_window_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="Window in which failed sign-ins are counted."
    )
    signin_lockout_minutes: int = Field(
        default=15, ge=1, le=7 * 24 * 60,
        description="How long a lock-out lasts (an admin may lift it: `reprotech ops unlock`).",
    )
    upload_max_mb: int = Field(
        default=2048, ge=1, le=1_000_000,
        description="Largest file accepted by any import (MiB): genotype files, manifests, "
        "sample sheets, breeding-event CSV/Excel, web uploads; checked before parsing.",
    )
    upload_web_max_mb: int = Field(
        default=20, ge=1, le=1_000_000,
        description="Largest file a dashboard upload accepts (MiB; never more than "
        "upload_max_mb): breeding events, lab files, herd registers and records. A browser "
        "upload arrives whole in one websocket message held in memory (the dashboard server "
        "takes at most 20 MiB per message); bigger files go through the CLI "
        "(`reprotech repro import`, `lab ingest`, `herd import`, `records import`).",
    )
    db_slow_query_seconds: float = Field(
        default=5.0, gt=0,
        description="Statements running longer than this count as slow in the database metrics.",
    )
    db_host: str = Field(
        default="127.0.0.1",
        description="Address the embedded PostgreSQL listens on; with an external database, "
        "its host as notebook logins reach it directly (they bypass PgBouncer: "
        "docs/operations.md).",
    )
    db_port: int = Field(
        default=54329, ge=1024, le=65535,
        description="Port of the embedded PostgreSQL (external database: the port notebook "
        "logins connect to).",
    )
    db_name: str = Field(default="reprotech", description="Database name of the platform.")
    db_os_user: str = Field(
        default="reprotech",
        description="Unprivileged OS account that runs the embedded cluster when the platform "
        "is started as root (PostgreSQL refuses to run as root); created when missing.",
    )
    db_pool_size: int = Field(
        default=5, ge=1, le=100, description="Application connection pool size per process."
    )
    db_transaction_pooling: bool = Field(
        default=False,
        description="The application's database URL points at a transaction-pooling PgBouncer "
        "(`pool_mode = transaction`). psycopg's automatic server-side prepared statements are "
        "then turned off: they cannot follow a client from one server connection to the next "
        "('prepared statement \"_pg3_0\" already exists'). The acting user needs nothing more: "
        "it is stated at the start of every transaction. Backups and audit retention connect "
        "directly (they use session settings and an advisory lock).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the platform's loggers."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="`json` for structured logs in production, `text` for people."
    )
    demo_customers: int = Field(
        default=4, ge=1, le=1000, description="Farm customers created by `reprotech demo load`."
    )
    demo_animals_per_customer: int = Field(
        default=100, ge=10, le=100_000, description="Animals per demo customer."
    )
    demo_snps: int = Field(
        default=3000, ge=100, le=200_000,
        description="SNPs on the demo chip (the demo writes its genotypes as FinalReport files).",
    )
    demo_seed: int = Field(default=20261122, description="Random seed of the demo data.")
    index_weights: dict[str, float] = Field(
        default_factory=lambda: {"milk_production": 0.002, "fertility": -0.1,
                                 "disease_resistance": 0.2, "longevity": 0.05},
        description="Selection index: economic weight per trait unit of each GEBV "
        "(kg milk, days open — fewer is better, index points, months).",
    )
    evaluation_memory_gib: float = Field(
        default=8.0, gt=0.0,
        description="Memory an evaluation run may use (GiB). A herd whose exact GBLUP (G and "
        "its eigendecomposition, ~4 x 8 N^2 bytes) would need more takes the SNP-BLUP path "
        "and the run's record says so, instead of being killed for lack of memory.",
    )
    evaluation_exact_max_animals: int = Field(
        default=10_000, ge=10,
        description="Evaluations of more genotyped animals than this take the SNP-BLUP path "
        "(time ~N x SNPs per iteration) instead of exact GBLUP (time ~N^3); measured in "
        "benchmarks/evaluation/README.md, 'Scale curve'.",
    )
    evaluation_reml_animals: int = Field(
        default=5000, ge=100,
        description="SNP-BLUP path: REML variance components of each trait on at most this "
        "many of its recorded animals, drawn by whole fixed-effect groups (a record alone in "
        "its contemporary group tells REML nothing; exact spectral REML, time ~n^3).",
    )
    evaluation_reliability_core: int = Field(
        default=2000, ge=10,
        description="SNP-BLUP path: reliabilities through a core of this many genotyped "
        "animals, parents with the most offspring first (Nyström/APY; exact when the core is "
        "the whole herd). Cost ~2 N c M flops and N x c x 4 bytes; agreement with the exact "
        "reliabilities by core size in benchmarks/evaluation/README.md.",
    )
    validation_share: float = Field(
        default=0.2, gt=0.0, lt=1.0,
        description="Forward validation of every evaluation run (Legarra & Reverter 2018): "
        "the youngest birth years, taken whole, holding at least this share of the genotyped "
        "animals lose their phenotypes in the partial evaluation.",
    )
    validation_min_animals: int = Field(
        default=20, ge=3,
        description="Fewer validation animals than this: the run records 'validation not "
        "possible' for the trait (and is not released automatically).",
    )
    validation_max_bias_sd: float = Field(
        default=0.5, gt=0.0,
        description="A run whose validation bias (mean partial minus mean whole GEBV of the "
        "validation animals) exceeds this many genetic SDs is not released automatically.",
    )
    validation_dispersion_range: tuple[float, float] = Field(
        default=(0.7, 1.3),
        description="A run whose dispersion (slope of whole on partial GEBVs; 1 = none) "
        "falls outside this range is not released automatically.",
    )
    imputation_reference_panel: str | None = Field(
        default=None,
        description="Evaluations over several chips: the panel every animal is imputed to "
        "(its animals are Beagle's reference). Unset: the panel with most animals.",
    )
    imputation_min_common_snps: int = Field(
        default=500, ge=1,
        description="A chip sharing fewer SNPs (name, chromosome, position, alleles) with the "
        "reference panel is not imputed: its animals are excluded from the run by rule "
        "imputation.no_common_snps, and listed in the run's record.",
    )
    imputation_max_conflict_rate: float = Field(
        default=0.02, ge=0.0, lt=1.0,
        description="An animal genotyped on two chips whose calls disagree at more than this "
        "share of the SNPs both called (a sample swap, not genotyping error) is excluded by "
        "rule imputation.conflicting_calls; fewer disagreeing calls are set missing and imputed.",
    )
    imputation_command: str = Field(
        default="beagle",
        description="The Beagle 5 command (Debian's `beagle` wrapper, or e.g. "
        "`java -Xmx8g -jar /opt/beagle.jar`).",
    )
    imputation_threads: int = Field(
        default=2, ge=1, description="Beagle's nthreads.",
    )
    imputation_ne: int = Field(
        default=1000, ge=1,
        description="Beagle's effective population size (its default, 100000, is for human "
        "populations; a cattle breed's is in the hundreds).",
    )
    imputation_timeout_minutes: int = Field(
        default=120, ge=1,
        description="A Beagle run longer than this fails the evaluation (imputation.failed).",
    )
    job_lease_seconds: int = Field(
        default=30, ge=5, le=3600,
        description="Lease of a job run; a worker renews it every third of it. A run whose "
        "worker stops renewing is retried after this long.",
    )
    job_workers: int = Field(
        default=2, ge=1, le=64, description="Job worker processes started by `reprotech jobs serve`."
    )
    scheduler_catchup_hours: int = Field(
        default=24, ge=0, le=24 * 31,
        description="After downtime, a schedule's missed runs within this window are run once.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for the platform's emails (job failures, "
        "password-reset links). Unset: failure emails are not sent and every other email is "
        "written to `<data_dir>/outbox` (the embedded default).",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_sender: str = Field(
        default="reprotech@localhost", description="From address of platform emails."
    )
    password_reset_minutes: int = Field(
        default=60, ge=5, le=1440,
        description="How long an emailed password-reset link works (it works once).",
    )
    password_reset_per_hour: int = Field(
        default=3, ge=1, le=100,
        description="Reset links emailed to one account per hour at most; beyond, a request "
        "gets the usual answer and no email (no inbox is flooded, no account revealed).",
    )
    invitation_hours: int = Field(
        default=72, ge=1, le=720,
        description="How long the link in an invitation to a new user works (once): they "
        "choose their password with it.",
    )
    vat_percent: Decimal = Field(
        default=Decimal("19.00"), ge=0, le=100, decimal_places=2,
        description="VAT charged on invoices, in percent (each invoice keeps the rate it was "
        "issued with).",
    )
    invoice_issuer: list[str] = Field(
        default_factory=lambda: ["Reprotech Analytics", "Embryo transfer, IVF and genomic "
                                 "testing"],
        description="The issuer's lines at the top of every invoice (name, address, VAT "
        "number, bank account).",
    )
    invoice_payment_days: int = Field(
        default=30, ge=0, le=365, description="Days from issue to the due date on invoices.",
    )
    pdf_font_dir: Path = Field(
        default=Path("/usr/share/fonts/truetype/dejavu"),
        description="Folder of the DejaVu Sans TrueType fonts invoices are set in (Debian's "
        "fonts-dejavu-core, which `./run` installs when missing): every customer's name prints, "
        "whatever its script.",
    )
    reports_kept_per_customer: int = Field(
        default=60, ge=1, le=3650,
        description="How many of a customer's scheduled herd reports the portal keeps (the "
        "newest; older ones are deleted when a new one is delivered).",
    )
    notify_emails: list[str] = Field(
        default_factory=list, description="Who gets failure emails (lab operations)."
    )
    audit_partition_months_ahead: int = Field(
        default=3,
        ge=1,
        le=36,
        description="Monthly audit-log partitions kept created ahead of today.",
    )
    audit_retention_months: int = Field(
        default=72,
        ge=AUDIT_RETENTION_FLOOR_MONTHS,
        le=1200,
        description="Months of audit log kept by `reprotech ops audit-retention` (before the "
        "current month; the data controller's retention period, 6 years by default); older "
        "monthly partitions are exported to `<backup_dir>/audit-log/` and dropped. At least "
        f"{AUDIT_RETENTION_FLOOR_MONTHS}.",
    )

    hub_bind_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Address the hub's proxy listens on (loopback by default; `http://0.0.0.0:8000` "
        "in a container). Browsers use `public_url`; in production put TLS in front or set "
        "`hub_ssl_cert`/`hub_ssl_key`.",
    )
    public_url: str | None = Field(
        default=None,
        description="The address users' browsers open, `scheme://host[:port]` (e.g. "
        "`https://reprotech.example.org`; the platform is served at the host's root, no path). "
        "Used for JupyterHub's `public_url`, the OIDC callback, the dashboards' OAuth redirect, "
        "websocket origin and content policy, secure cookies and links. Unset: `hub_bind_url` "
        "(the embedded single machine). The hub refuses to start on a malformed one.",
    )
    hub_oidc_callback_url: str | None = Field(
        default=None,
        description="OIDC redirect URI registered at the identity provider (default: "
        "`<public_url>/hub/oauth_callback`).",
    )
    dashboards_bind: str = Field(
        default="127.0.0.1",
        description="Address the dashboard service (Panel) listens on: loopback when the hub "
        "starts it on the same machine; `0.0.0.0` in its own container or pod.",
    )
    dashboards_url: str | None = Field(
        default=None,
        description="URL the hub's proxy uses to reach the dashboard service (default: "
        "`http://<dashboards_bind>:<dashboards_port>`, loopback when the bind address is a "
        "wildcard; on Kubernetes its Service, e.g. "
        "`http://reprotech-dashboards:8050`).",
    )
    dashboards_managed: bool = Field(
        default=True,
        description="The hub starts and stops the dashboard service itself. `false` where it "
        "runs apart (Kubernetes Deployment, deploy/k8s/dashboards.yaml): the hub then only routes "
        "to `dashboards_url` and registers the service with the API token in "
        "`<data_dir>/secrets/dashboards_api_token`, which the service is given too.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Token of the Prometheus scraper (hex), shared by the hub and the dashboard "
        "service. Unset: generated once in `<data_dir>/secrets/metrics_token` (one machine); "
        "set it where they run apart (Kubernetes Secret). Secret: environment only.",
    )
    dashboards_api_token: SecretStr | None = Field(
        default=None,
        description="Hub API token of a dashboard service that runs apart (`dashboards_managed "
        "= false`; the service gets the same as `JUPYTERHUB_API_TOKEN`). Unset: generated in "
        "`<data_dir>/secrets/`. Secret: environment only.",
    )
    dashboards_cookie_secret: SecretStr | None = Field(
        default=None,
        description="Cookie and token-encryption secret of the dashboard service (hex, e.g. "
        "`openssl rand -hex 32`); every replica needs the same. Unset: generated in "
        "`<data_dir>/secrets/`. Secret: environment only.",
    )
    hub_idle_culler: bool = Field(
        default=True,
        description="Run jupyterhub-idle-culler as a hub service. `false` where the deployment "
        "culls already (the Zero to JupyterHub chart's `cull`): one culler only.",
    )
    hub_api_bind: str = Field(
        default="127.0.0.1",
        description="Address the hub's internal API listens on (loopback by default). Services "
        "on other machines (a dashboard service run apart) call it: then the hub machine's "
        "private address, or `0.0.0.0` with `hub_api_url` set. The proxy's REST API and the "
        "notebook servers the hub starts on its own machine listen on this address too "
        "(loopback when it is a wildcard), and sign-ins arriving from it are its own proxy's "
        "(their `X-Forwarded-For` is read, as from loopback).",
    )
    hub_api_url: str | None = Field(
        default=None,
        description="URL the proxy, services and notebook servers use to reach the hub's API, "
        "`http://host:port` (JupyterHub's `hub_connect_url`; default: "
        "`http://<hub_api_bind>:<hub_api_port>`, loopback when the bind address is a wildcard).",
    )
    hub_api_port: int = Field(
        default=8081, ge=1024, le=65535,
        description="Port of the hub's internal API (bound to `hub_api_bind`).",
    )
    hub_proxy_api_port: int = Field(
        default=8001, ge=1024, le=65535,
        description="Port of configurable-http-proxy's REST API (bound to the hub's own address, "
        "see `hub_api_bind`; only the hub calls it).",
    )
    hub_proxy_command: Path | None = Field(
        default=None,
        description="The configurable-http-proxy executable (default: the one `./run` installs "
        "from npm, `<checkout>/.npm/node_modules/.bin/configurable-http-proxy`).",
    )
    hub_ssl_cert: Path | None = Field(
        default=None, description="TLS certificate of the proxy (production; unset: plain HTTP)."
    )
    hub_ssl_key: Path | None = Field(
        default=None, description="TLS key of the proxy (a 0600 file; production)."
    )
    hub_authenticator: Literal["local", "oidc"] = Field(
        default="local",
        description="`local`: platform users table, Argon2 passwords, TOTP for staff with a "
        "secret (embedded default); `oidc`: the identity provider below (production).",
    )
    hub_oidc_authorize_url: str | None = Field(
        default=None, description="OIDC authorization endpoint of the identity provider."
    )
    hub_oidc_token_url: str | None = Field(
        default=None, description="OIDC token endpoint of the identity provider."
    )
    hub_oidc_userinfo_url: str | None = Field(
        default=None, description="OIDC userinfo endpoint of the identity provider."
    )
    hub_oidc_client_id: str | None = Field(default=None, description="OIDC client id of the hub.")
    hub_oidc_client_secret: SecretStr | None = Field(
        default=None, description="OIDC client secret. Secret: environment only."
    )
    hub_oidc_groups_claim: str = Field(
        default="groups",
        description="Claim holding the user's groups; the `reprotech-role-<role>` group must "
        "match the user's role in the platform database (which also gives the customer).",
    )
    hub_state_dir: Path | None = Field(
        default=None,
        description="Folder of the hub's SQLite database and pid files (default: `<data_dir>/hub`).",
    )
    hub_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses (or CIDR networks) of reverse proxies in front of the hub's own "
        "proxy, e.g. a TLS terminator. The client address used for sign-in lock-outs is the "
        "right-most `X-Forwarded-For` entry not in this list; `X-Real-Ip` and entries a client "
        "wrote itself are never trusted. The hub's own proxy on loopback is always trusted.",
    )
    hub_notebook_isolation: bool = Field(
        default=True,
        description="Run every personal notebook server as its own unprivileged system account "
        "(created on first spawn, `hub_account_prefix` + the username) with a 0700 home; the hub "
        "must then run as root. `false` runs notebooks as the hub's own account: a single-user "
        "development machine only, never with real data.",
    )
    hub_account_prefix: str = Field(
        default="rt-", pattern=r"^[a-z][a-z0-9-]{0,7}$",
        description="Prefix of the system accounts created for notebook servers (as The Littlest "
        "JupyterHub's `jupyter-`).",
    )
    hub_home_root: Path | None = Field(
        default=None,
        description="Folder holding the notebook users' homes, one 0700 folder each (default: "
        "`<data_dir>/homes`).",
    )
    hub_spawn_timeout: int = Field(
        default=60, ge=5, le=3600, description="Seconds a single-user server may take to start."
    )

    hub_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30,
        description="A hub sign-in lasts this long (the hub cookie's max age); then the user "
        "signs in again.",
    )
    hub_staff_totp_required: bool = Field(
        default=True,
        description="Local sign-in: staff accounts must have a TOTP second factor enrolled "
        "(`reprotech user totp <name>`); without one their sign-in is refused.",
    )
    hub_jobs_service: bool = Field(
        default=True,
        description="Run the job scheduler and workers (`reprotech jobs serve`) as a "
        "hub-managed service, started and stopped with the hub.",
    )
    hub_cull_idle_seconds: int = Field(
        default=3600, ge=60,
        description="jupyterhub-idle-culler stops personal servers idle this long (roles may "
        "stop sooner inside the server, see docs/hub.md).",
    )
    dashboards_port: int = Field(
        default=8050, ge=1024, le=65535,
        description="Port of the shared dashboard service (Panel), bound to `dashboards_bind`; "
        "users reach it through the proxy at `/services/dashboards/`.",
    )
    dashboards_processes: int = Field(
        default=1, ge=1, le=64,
        description="Processes of the shared dashboard service (Bokeh `num_procs`).",
    )
    dashboards_session_check_seconds: int = Field(
        default=30, ge=0, le=3600,
        description="The dashboard service asks the hub this often whether a user's hub "
        "session still stands (signed out, expired or revoked ends the dashboard session too, "
        "open pages included); 0 asks on every request.",
    )
    dashboards_session_hours: float = Field(
        default=8.0, gt=0, le=720,
        description="A dashboard sign-in lasts this long; then the user signs in through the "
        "hub again.",
    )

    @field_validator("hub_trusted_proxies", mode="after")
    @classmethod
    def _proxies_parse(cls, value: list[str]) -> list[str]:
        from reprotech_core.client_address import parse_networks

        parse_networks(value)  # a bad entry is named when the settings load, not at sign-in
        return value

    @field_validator("public_url", mode="after")
    @classmethod
    def _public_url_root(cls, value: str | None) -> str | None:
        return None if value is None else checked_url("public_url", value, root_only=True)

    @field_validator("hub_oidc_callback_url", "dashboards_url", "hub_api_url", mode="after")
    @classmethod
    def _service_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        root_only = info.field_name in ("dashboards_url", "hub_api_url")
        return None if value is None else checked_url(info.field_name, value, root_only=root_only)

    @field_validator("metrics_token", "dashboards_api_token", "dashboards_cookie_secret",
                     mode="after")
    @classmethod
    def _hex_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None:
            try:
                if len(bytes.fromhex(value.get_secret_value())) < 16:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{info.field_name} must be at least 32 hex digits "
                                 "(openssl rand -hex 32)") from None
        return value

    @field_validator("validation_dispersion_range", mode="after")
    @classmethod
    def _dispersion_around_one(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 < value[0] < 1.0 < value[1]:
            raise ValueError("validation_dispersion_range must be (low, high) with "
                             f"0 < low < 1 < high, got {value}")
        return value

    @field_validator("home", "data_dir", "hub_state_dir", "hub_home_root", "backup_dir",
                     mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.hub_authenticator == "oidc":
            missing = [name for name in ("hub_oidc_client_id", "hub_oidc_authorize_url",
                                         "hub_oidc_token_url", "hub_oidc_userinfo_url")
                       if not getattr(self, name)]
            if missing:
                raise ValueError(f"hub_authenticator = 'oidc' needs {', '.join(missing)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _SecretFreeToml(settings_cls, _config_file()))

    # Derived values -----------------------------------------------------------------------
    @property
    def var_dir(self) -> Path:
        return self.data_dir or self.home / "var"

    @property
    def pg_data_dir(self) -> Path:
        return self.var_dir / "pg"

    @property
    def jobs_dir(self) -> Path:
        return self.var_dir / "jobs"

    @property
    def proxy_command(self) -> Path:
        return self.hub_proxy_command or (
            PROJECT_HOME / ".npm" / "node_modules" / ".bin" / "configurable-http-proxy"
        )

    @property
    def public_base(self) -> str:
        """What browsers open (``public_url``, else the bind URL), without a trailing slash:
        every redirect, origin and link is built on it, never on the bind address."""
        return (self.public_url or self.hub_bind_url).rstrip("/")

    @property
    def public_is_https(self) -> bool:
        return self.public_base.startswith("https://")

    @property
    def oidc_callback_url(self) -> str:
        return self.hub_oidc_callback_url or f"{self.public_base}/hub/oauth_callback"

    @property
    def dashboards_reach_url(self) -> str:
        """Where the hub's proxy reaches the dashboard service."""
        reach = _reachable(self.dashboards_bind)
        return (self.dashboards_url or f"http://{reach}:{self.dashboards_port}").rstrip("/")

    @property
    def hub_local_ip(self) -> str:
        """The hub machine's own address for what only it and its proxy use (the proxy's REST
        API, the notebook servers it starts): ``hub_api_bind``, loopback for a wildcard."""
        return _reachable(self.hub_api_bind)

    @property
    def hub_api_reach_url(self) -> str:
        """Where the proxy, the services and the notebook servers reach the hub's API."""
        return (self.hub_api_url or f"http://{self.hub_local_ip}:{self.hub_api_port}").rstrip("/")

    @property
    def hub_dir(self) -> Path:
        """The hub's state: its SQLite database and pid files."""
        return self.hub_state_dir or self.var_dir / "hub"

    @property
    def homes_dir(self) -> Path:
        """Where notebook users' homes live (one 0700 folder per account)."""
        return self.hub_home_root or self.var_dir / "homes"

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    @property
    def embedded(self) -> bool:
        return self.resolved_database_url() is None

    def resolved_database_url(self) -> str | None:
        return _secret(self.database_url, self.database_url_file, "database_url")

    def resolved_admin_url(self) -> str | None:
        return _secret(self.database_admin_url, self.database_admin_url_file, "database_admin_url")

    def resolved_backup_url(self) -> str | None:
        return _secret(self.database_backup_url, self.database_backup_url_file,
                       "database_backup_url")

    @property
    def backups_dir(self) -> Path:
        return self.backup_dir or self.var_dir / "backups"

    @property
    def web_upload_max_bytes(self) -> int:
        """The dashboard upload limit in bytes: ``upload_web_max_mb``, capped by the limit of
        every import (``upload_max_mb``)."""
        return min(self.upload_web_max_mb, self.upload_max_mb) * 2**20


def _reachable(bind: str) -> str:
    """The address a listener bound to ``bind`` is reached at on its own machine: the address
    itself, or loopback for a wildcard (all addresses)."""
    wildcard = bind in ("", "0.0.0.0", "::", "*")  # noqa: S104 (a comparison, not a bind)
    return "127.0.0.1" if wildcard else bind


def checked_url(name: str, value: str, *, root_only: bool) -> str:
    """``value`` as an http(s) URL with a host, or a :class:`SettingsError` naming ``name``.

    ``root_only``: the URL addresses a host's root (the hub, the dashboards' upstream), so a
    path, query, fragment or credentials would silently be dropped or break redirects.
    """
    from urllib.parse import urlsplit

    def refuse(problem: str) -> SettingsError:
        return SettingsError(f"{name} = {value!r}: {problem}")

    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:
        raise refuse(f"not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("the scheme must be http or https (e.g. https://reprotech.example.org)")
    if not parts.hostname:
        raise refuse("no host name")
    if parts.username or parts.password:  # the value itself is not echoed: it holds a secret
        raise SettingsError(f"{name}: credentials do not belong in the URL")
    if parts.query or parts.fragment:
        raise refuse("no query or fragment allowed")
    if root_only and parts.path not in ("", "/"):
        raise refuse(f"no path allowed (got {parts.path!r}): the platform is served at the "
                     "host's root")
    if port == 0:
        raise refuse("port 0 is not a port")
    return value.strip().rstrip("/") if root_only else value.strip()


def _secret(value: SecretStr | None, file: Path | None, name: str) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if file is None:
        return None
    return read_secret_file(file, name)


def read_secret_file(path: Path, name: str) -> str:
    """Read a secret from a file only its owner may read (refuse group/world access)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SettingsError(f"{name}: secret file {path} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"{name}: secret file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            "chmod 600 it"
        )
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Raises :class:`SettingsError` on a bad setting."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


def settings_markdown() -> str:
    """The settings reference, generated from the model (committed as docs/settings.md)."""
    lines = [
        "# Settings",
        "",
        "Generated by `reprotech settings docs` from `reprotech_core/settings.py`; do not edit.",
        "",
        "Each setting is read from the environment variable `REPROTECH_<NAME>` or from the",
        "settings file (`REPROTECH_CONFIG`, default `config/reprotech.toml`; see",
        "`config/reprotech.example.toml`). Secrets are accepted only from the environment or a",
        "0600 file (`*_file` settings).",
        "",
        "| setting | environment variable | type | default | description |",
        "|---|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "—" if default is None else ("`<checkout>`" if name == "home" else f"`{default}`")
        annotation = getattr(field.annotation, "__name__", None) or str(field.annotation)
        annotation = annotation.replace("typing.", "").replace("pydantic.types.", "")
        lines.append(
            f"| `{name}` | `REPROTECH_{name.upper()}` | {annotation.replace('|', 'or')} "
            f"| {shown} | {field.description} |"
        )
    return "\n".join(lines) + "\n"
