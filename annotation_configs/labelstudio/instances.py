"""Local Label Studio instances on loopback: one per annotator, plus one for adjudication.

Nothing inside one Label Studio Community instance keeps annotators apart (see
shared/notes/label-studio.md and docs/threat-model.md), so each annotator gets a whole
instance. A fresh data dir takes ~60 s to initialise; a copy of an initialised *template*
starts in ~4-6 s, so the template is made once and copied per instance. Before a copy first
starts, everything that opens it is made its own: the organisation's invite token, the admin
password and API token (written into the copied database), and its SECRET_KEY — so nothing
that opens one instance opens another.

Each instance runs with Django settings of ours (``site/``: curator-only
endpoints refused to the annotator, 5xx responses without server paths), a minimal
environment (none of the curator's secrets), Label Studio's SSRF protection on with only the
webhook receiver's address allowed, and a document root of its own that holds just the media
of its annotator's tasks.

Records (``LabelStudioInstance``) are plain values; where they are kept (a JSON state file
here, the ``labelstudio_instances`` table in the service) is the caller's choice.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from annotation_configs.labelstudio.install import LabelStudioInstall
from backend.domain import (
    ConflictError,
    InstanceRole,
    NotFoundError,
    Progress,
    ServiceUnavailableError,
    ValidationError,
)

HOST = "127.0.0.1"
_TEMPLATE_MARKER = "mmcurate-template.json"
SITE_DIR = Path(__file__).parent / "site"
SETTINGS_MODULE = "mmcurate_labelstudio_settings"
# the only variables of ours a Label Studio process inherits: none holds a secret
_INHERITED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
# Label Studio's own list of reserved networks (core/utils/io.py, 1.23.2); the receiver's address is cut out of it
_BANNED_SUBNETS = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "233.252.0.0/24", "240.0.0.0/4", "255.255.255.255/32", "::/128", "::1/128", "::ffff:0:0/96",
    "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:0000::/32", "2001:20::/28",
    "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
)


@dataclass(frozen=True)
class LabelStudioInstance:
    """One Label Studio server mmcurate runs: where it listens, its secrets, and its process."""

    name: str
    role: str
    port: int
    data_dir: Path
    media_root: Path
    secret_key: str
    admin_email: str
    admin_password: str
    admin_token: str
    pid: int | None = None
    annotator: str | None = None
    user_email: str | None = None
    user_id: int | None = None
    user_token: str | None = None
    external_url: str | None = None
    webhook_url: str | None = None
    public_url: str | None = None
    lock_ttl_s: int | None = None

    @property
    def url(self) -> str:
        """Where mmcurate itself talks to the instance (loopback; the gateway proxies ``public_url`` here)."""
        return self.external_url or f"http://{HOST}:{self.port}"

    @property
    def address(self) -> str:
        """Where a person opens the instance: its gateway address, or ``url`` for one made without a gateway."""
        return f"{self.public_url}/" if self.public_url else self.url

    @property
    def managed(self) -> bool:
        """True for instances mmcurate runs itself; False for a shared server it only uses."""
        return self.external_url is None

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["data_dir"] = str(self.data_dir)
        out["media_root"] = str(self.media_root)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> "LabelStudioInstance":
        values = dict(raw)
        values["data_dir"] = Path(str(values["data_dir"]))
        values["media_root"] = Path(str(values["media_root"]))
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Template:
    """An initialised data dir to copy, with the admin login it was made with."""

    data_dir: Path
    admin_email: str
    admin_password: str
    admin_token: str


def port_is_free(port: int) -> bool:
    """True when nothing listens on loopback ``port`` (Label Studio silently moves off a busy one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(avoid: Iterable[int] = ()) -> int:
    """A loopback port nothing listens on and not in ``avoid``."""
    taken = set(avoid)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port
    raise ServiceUnavailableError("found no free loopback port in 50 tries")


def banned_subnets(webhook_url: str | None) -> list[str]:
    """Label Studio's reserved networks with the webhook receiver's own address (and nothing else) allowed.

    With SSRF protection on, an instance may send webhooks to the receiver but imports by URL,
    ML backends and webhooks to any other private or loopback address are refused.
    """
    import ipaddress
    from urllib.parse import urlparse

    allowed: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    host = urlparse(webhook_url).hostname if webhook_url else None
    if host:
        try:
            allowed = {ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, None)}
        except (socket.gaierror, ValueError):
            raise ValidationError(f"the webhook host {host!r} of {webhook_url!r} does not resolve; "
                                  "fix MMCURATE_PUBLIC_URL") from None
    out: list[str] = []
    for subnet in map(ipaddress.ip_network, _BANNED_SUBNETS):
        parts = [subnet]
        for address in allowed:
            parts = [piece for part in parts for piece in (
                part.address_exclude(ipaddress.ip_network(address)) if address in part else [part])]
        out.extend(str(p) for p in sorted(parts, key=lambda n: (n.version, n.network_address)))
    return out


def labelstudio_env(
    data_dir: Path, media_root: Path, secret_key: str, admin_email: str, admin_password: str, admin_token: str,
    webhook_url: str | None = None, public_url: str | None = None, lock_ttl_s: int | None = None,
) -> dict[str, str]:
    """The environment of a headless, hardened Label Studio with a known admin token (see the notes).

    Only a few harmless variables are inherited (no ``HF_TOKEN``, database URL or mmcurate
    secret reaches the process); ``HOME`` is the instance's own data dir. With ``public_url``
    (the gateway's address of this instance, ``https://host/a/<name>``) Label Studio builds
    its pages, static files, API calls and redirects under that path, accepts form posts from
    that origin (the gateway scopes its cookies there); ``lock_ttl_s`` is how long a task
    an annotator opened stays "open" (Label Studio's default is a day).
    """
    env = {k: v for k, v in os.environ.items() if k in _INHERITED or k.startswith("LC_")}
    env.update(
        HOME=str(data_dir),
        PYTHONPATH=str(SITE_DIR),
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        DJANGO_DB="sqlite",
        LABEL_STUDIO_USERNAME=admin_email,
        LABEL_STUDIO_PASSWORD=admin_password,
        LABEL_STUDIO_USER_TOKEN=admin_token,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        LOCAL_FILES_SERVING_ENABLED="true",
        LOCAL_FILES_DOCUMENT_ROOT=str(media_root),
        SSRF_PROTECTION_ENABLED="true",
        USE_DEFAULT_BANNED_SUBNETS="false",
        USER_ADDITIONAL_BANNED_SUBNETS=",".join(banned_subnets(webhook_url)),
        ML_BLOCK_LOCAL_IP="true",
        DEBUG_MODAL_EXCEPTIONS="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
        COLLECT_ANALYTICS="false",
        LATEST_VERSION_CHECK="false",
        SECRET_KEY=secret_key,
    )
    if public_url:
        from urllib.parse import urlparse

        parts = urlparse(public_url)
        # (cookies stay without Secure here, as mmcurate itself signs people up over loopback http; the
        # gateway marks them Secure on their way to an https browser)
        env.update(LABEL_STUDIO_HOST=public_url.rstrip("/"), CSRF_TRUSTED_ORIGINS=f"{parts.scheme}://{parts.netloc}")
    if lock_ttl_s:
        env["TASK_LOCK_TTL"] = str(int(lock_ttl_s))
    return env


def _spawn(
    install: LabelStudioInstall, data_dir: Path, port: int, env: dict[str, str], port_wait_s: float = 15.0
) -> subprocess.Popen[bytes]:
    if not install.executable.exists():
        raise ServiceUnavailableError(
            f"Label Studio is not installed at {install.venv}; run "
            f"`python -m annotation_configs.labelstudio.install --venv {install.venv}` first"
        )
    deadline = time.monotonic() + port_wait_s  # a server killed a moment ago may still hold its port
    while not port_is_free(port):
        if time.monotonic() >= deadline:
            raise ConflictError(f"port {port} on {HOST} is already in use; stop what uses it or pick another port")
        time.sleep(0.25)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "labelstudio.log", "ab")
    try:
        return subprocess.Popen(
            [str(install.executable), "start", "--no-browser", "--internal-host", HOST, "--port", str(port),
             "--data-dir", str(data_dir)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    finally:
        log.close()


def health(url: str, timeout_s: float = 2.0) -> bool:
    """True when ``url``/health answers UP."""
    import httpx

    try:
        response = httpx.get(f"{url}/health", timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("status") == "UP"


def _wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, data_dir: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if health(url):
            return
        if proc is not None and proc.poll() is not None:
            raise ServiceUnavailableError(
                f"Label Studio in {data_dir} exited with code {proc.returncode} before it was up; "
                f"last log lines:\n{_log_tail(data_dir)}"
            )
        time.sleep(0.5)
    raise ServiceUnavailableError(
        f"Label Studio at {url} was not up after {timeout_s:.0f} s; last log lines:\n{_log_tail(data_dir)}"
    )


def _log_tail(data_dir: Path, chars: int = 1500) -> str:
    log = data_dir / "labelstudio.log"
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def _terminate(pid: int, timeout_s: float = 15.0) -> None:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.2)


def stragglers(data_dir: Path) -> list[int]:
    """PIDs of Label Studio processes serving ``data_dir`` (its exact ``--data-dir`` in their command line).

    A server can outlive the PID we hold (seen once after SIGKILL: a process with PPID 1 in a
    group of its own kept the port), so stop and start also look for these.
    """
    wanted = ["--data-dir", str(data_dir)]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(a.endswith("label-studio") for a in argv) and any(
            argv[i:i + 2] == wanted for i in range(len(argv) - 1)
        ):
            found.append(int(entry.name))
    return found


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` is a running (not zombie) process."""
    if not pid:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap our own child if it died
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def ensure_template(
    install: LabelStudioInstall,
    template_dir: Path,
    media_root: Path,
    *,
    timeout_s: float = 240.0,
    on_progress: Progress | None = None,
) -> Template:
    """Initialise a Label Studio data dir once (database, admin user, token); reuse it after.

    Concurrent callers (two test sessions, CLI and tests) wait on a lock beside the folder.
    """
    import fcntl

    template_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(template_dir.parent / f".{template_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_template(install, template_dir, media_root, timeout_s, on_progress)


def _ensure_template(
    install: LabelStudioInstall,
    template_dir: Path,
    media_root: Path,
    timeout_s: float,
    on_progress: Progress | None,
) -> Template:
    marker = template_dir / _TEMPLATE_MARKER
    if marker.is_file():
        os.chmod(marker, 0o600)  # also for a template made before it was kept private
        raw = json.loads(marker.read_text())
        return Template(data_dir=template_dir, **raw)
    if template_dir.exists():
        shutil.rmtree(template_dir)
    if on_progress:
        on_progress("initialise Label Studio template", 0, 1)
    admin = {
        "admin_email": "mmcurate-admin@localhost.localdomain",
        "admin_password": secrets.token_urlsafe(18),
        "admin_token": secrets.token_hex(20),
    }
    port = free_port()
    env = labelstudio_env(template_dir, media_root, secrets.token_urlsafe(40), **admin)
    proc = _spawn(install, template_dir, port, env)
    try:
        _wait_healthy(f"http://{HOST}:{port}", proc, template_dir, timeout_s)
    finally:
        _terminate(proc.pid)
        proc.wait(timeout=30)
    (template_dir / "labelstudio.log").unlink(missing_ok=True)
    marker.touch(mode=0o600)
    os.chmod(marker, 0o600)  # the template's admin login (every copy gets its own before it starts)
    marker.write_text(json.dumps(admin))
    if on_progress:
        on_progress("initialise Label Studio template", 1, 1)
    return Template(data_dir=template_dir, **admin)


def create_instance(
    install: LabelStudioInstall,
    template: Template,
    data_dir: Path,
    media_root: Path,
    *,
    name: str,
    role: InstanceRole = InstanceRole.ANNOTATOR,
    annotator: str | None = None,
    port: int | None = None,
    avoid_ports: Iterable[int] = (),
    webhook_url: str | None = None,
    public_url: str | None = None,
    lock_ttl_s: int | None = None,
    timeout_s: float = 120.0,
) -> LabelStudioInstance:
    """Copy the template to ``data_dir``, make its secrets its own, start it; return it running."""
    if role not in {r.value for r in InstanceRole}:
        raise ValidationError(f"instance role {role!r} is not one of {', '.join(InstanceRole)}")
    if data_dir.exists():
        raise ConflictError(f"{data_dir} already exists; an instance named {name!r} was made before")
    shutil.copytree(template.data_dir, data_dir)
    os.chmod(data_dir, 0o700)
    (data_dir / _TEMPLATE_MARKER).unlink(missing_ok=True)
    admin_password, admin_token = make_own(data_dir, template.admin_email)
    instance = LabelStudioInstance(
        name=name,
        role=role,
        port=port or free_port(avoid_ports),
        data_dir=data_dir,
        media_root=media_root,
        secret_key=secrets.token_urlsafe(40),
        admin_email=template.admin_email,
        admin_password=admin_password,
        admin_token=admin_token,
        annotator=annotator,
        webhook_url=webhook_url,
        public_url=public_url,
        lock_ttl_s=lock_ttl_s,
    )
    return start(install, instance, timeout_s=timeout_s)


def make_own(data_dir: Path, admin_email: str) -> tuple[str, str]:
    """Give a copied (not yet started) instance database secrets of its own; its new admin password and token.

    A copy of the template shares the template's organisation invite token, admin password
    and admin API token with every other copy: each is replaced here, in the database file
    itself, before the server first runs (sessions from the template are dropped too).
    """
    import sqlite3

    database = data_dir / "label_studio.sqlite3"
    if not database.is_file():
        raise NotFoundError(f"{database} is missing; the Label Studio template at the source of this copy is broken")
    password, token = secrets.token_urlsafe(18), secrets.token_hex(20)
    connection = sqlite3.connect(database)
    try:
        with connection:
            user = connection.execute("SELECT id FROM htx_user WHERE email = ?", (admin_email,)).fetchone()
            if user is None:
                raise NotFoundError(f"{database} has no admin user {admin_email!r}; delete the Label Studio template")
            connection.execute("UPDATE htx_user SET password = ? WHERE id = ?", (django_password_hash(password), user[0]))
            connection.execute("UPDATE authtoken_token SET key = ? WHERE user_id = ?", (token, user[0]))
            for (org_id,) in connection.execute("SELECT id FROM organization").fetchall():
                connection.execute("UPDATE organization SET token = ? WHERE id = ?", (secrets.token_hex(20), org_id))
            connection.execute("DELETE FROM django_session")
    finally:
        connection.close()
    return password, token


def django_password_hash(password: str, iterations: int = 1_000_000) -> str:
    """Django's default ``pbkdf2_sha256`` password hash of ``password`` (what ``set_password`` stores)."""
    import base64
    import hashlib

    salt = secrets.token_urlsafe(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def start(
    install: LabelStudioInstall, instance: LabelStudioInstance, *, timeout_s: float = 120.0, port_wait_s: float = 15.0
) -> LabelStudioInstance:
    """Start ``instance`` (no-op when it is up) and wait for /health; returns it with its PID."""
    if pid_alive(instance.pid) and health(instance.url):
        return instance
    if not instance.data_dir.is_dir():
        raise NotFoundError(f"instance {instance.name!r} has no data dir at {instance.data_dir}")
    instance.media_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(instance.media_root, 0o700)
    env = labelstudio_env(
        instance.data_dir, instance.media_root, instance.secret_key, instance.admin_email,
        instance.admin_password, instance.admin_token, instance.webhook_url, instance.public_url, instance.lock_ttl_s,
    )
    for pid in stragglers(instance.data_dir):  # a dead instance's orphan would hold the port
        _terminate(pid)
    proc = _spawn(install, instance.data_dir, instance.port, env, port_wait_s)
    try:
        _wait_healthy(instance.url, proc, instance.data_dir, timeout_s)
    except Exception:
        _terminate(proc.pid)
        raise
    return replace(instance, pid=proc.pid)


def stop(instance: LabelStudioInstance) -> LabelStudioInstance:
    """Stop ``instance``'s process group (TERM, then KILL) and any straggler on its data dir; returns it without a PID."""
    if instance.pid:
        _terminate(instance.pid)
    if instance.managed:
        for pid in stragglers(instance.data_dir):
            _terminate(pid)
    return replace(instance, pid=None)


def is_running(instance: LabelStudioInstance) -> bool:
    """Its process lives and /health answers UP."""
    return pid_alive(instance.pid) and health(instance.url)


class InstanceState:
    """Instance records kept in a JSON file under the Label Studio data dir (CLI without a database)."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, LabelStudioInstance]:
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise ValidationError(f"instance state file {self.path} is not valid JSON ({exc}); fix or delete it") from None
        return {name: LabelStudioInstance.from_json(rec) for name, rec in raw.items()}

    def save(self, instances: dict[str, LabelStudioInstance]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.touch(mode=0o600)
        os.chmod(tmp, 0o600)  # it holds secret keys and tokens
        tmp.write_text(json.dumps({n: i.to_json() for n, i in sorted(instances.items())}, indent=2))
        tmp.replace(self.path)

    def put(self, instance: LabelStudioInstance) -> None:
        """Record ``instance``; the read-modify-write holds a lock, as the gateway and the CLI both write."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            instances = self.load()
            instances[instance.name] = instance
            self.save(instances)


def restart_dead(
    install: LabelStudioInstall, instances: Iterable[LabelStudioInstance], *, timeout_s: float = 120.0
) -> list[LabelStudioInstance]:
    """Every instance running again: those whose process died are started; returns the updated records."""
    return [i if is_running(i) else start(install, i, timeout_s=timeout_s) for i in instances]


def stop_all(instances: Iterable[LabelStudioInstance]) -> list[LabelStudioInstance]:
    """Stop every instance; returns them without PIDs."""
    return [stop(i) for i in instances]
