"""nginx.conf: `nginx -t` where every upstream name resolves, and gixy-ng (medium and above).

`nginx -t` resolves upstream host names and opens the TLS files, so it runs where
both exist. With the project's load balancer image built (`infra-gen/lb:<tag>`) it
runs there: a throw-away container, no network, one `--add-host NAME:127.0.0.1` per
container name and alias of the topology, the generated config and a throw-away
certificate mounted where the compose file mounts the real ones. Without the image
it runs the host's nginx in a private mount namespace (`unshare -m`) whose
/etc/hosts lists the same names, on a copy of the config whose absolute paths
(/etc/nginx, /etc/letsencrypt, /var/cache/nginx, ...) point into a temp directory.
A name nginx.conf uses that is not a container of the topology fails the check.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path, PurePosixPath

from ..contract import NGINX_CONF as CONF
from ..contract import install_hint
from ..model import TlsMode
from .base import (
    Check,
    Context,
    Finding,
    Skip,
    ToolFailed,
    docker_available,
    image_exists,
    run,
    venv_tool,
)

_CERT_LOCK = threading.Lock()
_CERT_CACHE: dict[str, tuple[bytes, bytes]] = {}


def _self_signed(domain: str) -> tuple[bytes, bytes]:
    """A throw-away certificate and key (cached per domain for the process)."""
    with _CERT_LOCK:
        if domain not in _CERT_CACHE:
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp, "c.pem"), Path(tmp, "k.pem")
                proc = subprocess.run(
                    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                     "-subj", f"/CN={domain}", "-keyout", str(key), "-out", str(cert)],
                    capture_output=True, text=True, timeout=60, check=False)
                if proc.returncode != 0:
                    raise ToolFailed(f"openssl could not make a test certificate: {proc.stderr}")
                _CERT_CACHE[domain] = (cert.read_bytes(), key.read_bytes())
        return _CERT_CACHE[domain]


def host_names(ctx: Context) -> list[str]:
    """Every name a container answers to on the stack's networks."""
    return sorted({c.name for c in ctx.topo.containers})


def _tls_files(ctx: Context, etc_nginx: Path, letsencrypt: Path) -> None:
    env = ctx.topo.env
    if env.tls.mode is TlsMode.none:
        return
    cert, key = _self_signed(env.domain)
    # Where the topology says nginx reads them: /etc/nginx/tls (self-signed) or the
    # certbot volume's served pair (/etc/letsencrypt/infra-gen).
    served = PurePosixPath(ctx.topo.tls_certificate).parent
    roots = {PurePosixPath("/etc/nginx"): etc_nginx, PurePosixPath("/etc/letsencrypt"): letsencrypt}
    dirs = [etc_nginx / "tls"] + [local / served.relative_to(root)
                                  for root, local in roots.items() if served.is_relative_to(root)]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        for name, data in (("fullchain.pem", cert), ("cert.pem", cert), ("chain.pem", cert),
                           ("privkey.pem", key)):
            (d / name).write_bytes(data)
            (d / name).chmod(0o644)
    (letsencrypt / "ssl-dhparams.pem").write_text(_DHPARAMS)
    (letsencrypt / "options-ssl-nginx.conf").write_text("ssl_session_cache shared:le:1m;\n")


def _layout(ctx: Context, tmp: Path) -> tuple[Path, Path, Path]:
    etc_nginx, letsencrypt, webroot = tmp / "etc-nginx", tmp / "letsencrypt", tmp / "www"
    shutil.copytree(ctx.path("nginx"), etc_nginx)
    for extra in ("mime.types", "fastcgi_params", "uwsgi_params", "scgi_params"):
        if not (etc_nginx / extra).exists() and Path("/etc/nginx", extra).exists():
            shutil.copy(Path("/etc/nginx", extra), etc_nginx / extra)
    letsencrypt.mkdir()
    (webroot / "certbot").mkdir(parents=True)
    _tls_files(ctx, etc_nginx, letsencrypt)
    tmp.chmod(0o755)
    for p in tmp.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return etc_nginx, letsencrypt, webroot


def _in_lb_image(ctx: Context, image: str, tmp: Path) -> tuple[int, str]:
    etc_nginx, letsencrypt, webroot = _layout(ctx, tmp)
    argv = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "nginx"]
    for name in host_names(ctx):
        argv += ["--add-host", f"{name}:127.0.0.1"]
    argv += ["-v", f"{etc_nginx / 'nginx.conf'}:/etc/nginx/nginx.conf:ro",
             "-v", f"{etc_nginx / 'tls'}:/etc/nginx/tls:ro",
             "-v", f"{letsencrypt}:/etc/letsencrypt:ro",
             "-v", f"{webroot / 'certbot'}:/var/www/certbot:ro",
             "--tmpfs", "/var/cache/nginx", "--tmpfs", "/tmp", image, "-t"]
    out = run(argv, timeout=90)
    return out.returncode, out.output


_REWRITE = ("/etc/nginx", "/etc/letsencrypt", "/var/www", "/var/cache/nginx", "/var/lib/nginx",
            "/var/log/nginx", "/run", "/var/run")


def _on_host(ctx: Context, tmp: Path) -> tuple[int, str]:
    if shutil.which("unshare") is None:
        raise Skip("unshare not installed (util-linux) and the lb image is not built")
    etc_nginx, _, _ = _layout(ctx, tmp)
    conf = etc_nginx / "nginx.conf"
    text = conf.read_text()
    for prefix in _REWRITE:
        target = {"/etc/nginx": etc_nginx, "/etc/letsencrypt": tmp / "letsencrypt",
                  "/var/www": tmp / "www"}.get(prefix, tmp / "var" / prefix.strip("/"))
        (tmp / "var" / prefix.strip("/")).mkdir(parents=True, exist_ok=True)
        text = re.sub(rf"(?<![\w/]){re.escape(prefix)}(?=[/;\s])", str(target), text)
    conf.write_text(text)
    hosts = tmp / "hosts"
    hosts.write_text("127.0.0.1 localhost\n"
                     + "".join(f"127.0.0.1 {n}\n" for n in host_names(ctx)))
    script = f'mount --bind "{hosts}" /etc/hosts && exec nginx -t -p "{tmp}/" -c "{conf}"'
    out = run(["unshare", "-m", "sh", "-c", script], timeout=60)
    message = out.output.replace(str(etc_nginx) + "/", "/etc/nginx/")
    for prefix in ("letsencrypt", "www"):
        message = message.replace(str(tmp / prefix), f"/etc/{prefix}" if prefix == "letsencrypt"
                                  else "/var/www")
    return out.returncode, message


def lb_image(ctx: Context) -> str:
    return f"{ctx.topo.env.images.registry}/lb:{ctx.topo.env.images.tag}"


_LINE = re.compile(r"in (?:/etc/nginx/|\S*/)nginx\.conf:(\d+)")


def nginx_t(ctx: Context) -> list[Finding]:
    ctx.need(CONF)
    image = lb_image(ctx)
    use_image = docker_available() is None and image_exists(image)
    if not use_image and venv_tool("nginx") is None:
        raise Skip(f"nginx not installed — {install_hint('nginx')} (or build the lb image)")
    with tempfile.TemporaryDirectory(prefix="nginx-t-") as tmpdir:
        tmp = Path(tmpdir)
        code, output = _in_lb_image(ctx, image, tmp) if use_image else _on_host(ctx, tmp)
    if code == 0:
        return []
    lines = [ln for ln in output.splitlines() if "[emerg]" in ln or "[crit]" in ln
             or "[alert]" in ln or "failed" in ln] or [output]
    findings = []
    for ln in lines:
        m = _LINE.search(ln)
        findings.append(Finding(f"nginx -t: {ln.strip()}", CONF, int(m.group(1)) if m else None))
    return findings


_SEVERITIES = ("MEDIUM", "HIGH")


def gixy(ctx: Context) -> list[Finding]:
    conf = ctx.need(CONF)[0]
    out = run(["gixy", "-f", "json", str(conf)], timeout=120)
    try:
        issues = json.loads(out.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ToolFailed(f"gixy: unreadable output ({exc}): {out.output[:500]}") from exc
    if out.returncode not in (0, 1) and not issues:
        return [Finding(f"gixy: {out.output}", CONF)]
    findings = []
    for issue in issues:
        if str(issue.get("severity", "")).upper() not in _SEVERITIES:
            continue
        where = str(issue.get("config", "")).strip().splitlines()
        line = None
        if where:
            needle = where[-1].strip().rstrip(";")
            line = next((i for i, t in enumerate(conf.read_text().splitlines(), 1)
                         if needle and needle in t), None)
        findings.append(Finding(
            f"gixy {issue.get('severity')} [{issue.get('plugin')}] {issue.get('summary')}: "
            f"{issue.get('reason', '')} ({issue.get('reference', '')})".strip(), CONF, line))
    return findings


_DHPARAMS = """-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

CHECKS = (
    Check("nginx -t", "nginx", nginx_t, inputs=("nginx/**",), versions=("docker", "nginx", "unshare"),
          images=lambda ctx: (lb_image(ctx),)),
    Check("gixy-ng", "nginx", gixy, ("gixy",), inputs=("nginx/**",), topology=False),
)
