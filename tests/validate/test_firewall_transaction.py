"""ufw.sh is one transaction, proved in a throw-away container (NET_ADMIN, Debian's ufw):
after a good run, a script with a bad rule and a script that fails half-way through
applying both exit non-zero and leave the good rules active, the rules files and
DOCKER-USER exactly as they were."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from infra_gen.artifacts import firewall as artifact
from infra_gen.artifacts.firewall import outputs as firewall_outputs
from infra_gen.project import Project
from infra_gen.render import header, jinja_environment, render_environment
from infra_gen.topology import plan
from infra_gen.validate import Context
from infra_gen.validate.base import docker_available, run
from infra_gen.validate.firewall import ensure_image, expected_rules, status_rules

pytestmark = pytest.mark.validate

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
SCRIPT = "firewall/ufw.sh"

SNAPSHOT = """snap() {
    echo "@@$1 status"; ufw status verbose
    echo "@@$1 docker-user"; iptables -S DOCKER-USER
    echo "@@$1 files"; md5sum /etc/ufw/*.rules /etc/default/ufw /etc/ufw/ufw.conf
}
bash /t/good.sh >/tmp/good.out 2>&1 || { echo "good ufw.sh exited $?"; cat /tmp/good.out; exit 3; }
snap before
for s in bad fails; do
    rc=0
    bash "/t/$s.sh" >"/tmp/$s.out" 2>&1 || rc=$?
    echo "@@$s rc"; echo "$rc"
    echo "@@$s output"; cat "/tmp/$s.out"
    snap "$s"
done
"""


def bad_rule_script(monkeypatch: pytest.MonkeyPatch) -> str:
    """ufw.sh with a private network nothing refused (the artifact's checks switched off,
    the model bypassed): what the issue found, 999.999.999.999/99."""
    monkeypatch.setattr(artifact, "checked", lambda rules: rules)
    monkeypatch.setattr(artifact, "checked_network", lambda value: value)
    topo = plan(PROJECT.load("prod"))
    bad = "999.999.999.999/99"
    env = topo.env.model_copy(update={
        "firewall": topo.env.firewall.model_copy(update={"private_cidr": bad})})
    rules = tuple(dataclasses.replace(r, source=bad) if r.port == 6379 else r
                  for r in topo.firewall_rules)
    topo = dataclasses.replace(topo, env=env, firewall_rules=rules)
    (out,) = firewall_outputs(topo)
    context = {"topo": topo, "env": topo.env, "header": lambda c="#": header(topo.name, c),
               **out.context}
    return jinja_environment(ROOT / "templates").get_template(out.template).render(context)


def sections(out: str) -> dict[str, str]:
    parts = re.split(r"^@@(.+)\n", out, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_a_failed_run_leaves_the_previous_firewall(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    why = docker_available()
    if why:
        pytest.skip(why)
    image = ensure_image()
    good = render_environment(PROJECT, "prod")[SCRIPT].content.decode()
    # Passes every check, fails at `ufw --force enable` (iptables-restore of after.rules),
    # after the reset: the rollback path.
    fails, n = re.subn(r"^    '-A DOCKER-USER -j RETURN'$", "    '-A DOCKER-USER -j no-such-chain'",
                       good, flags=re.M)
    assert n == 1
    for name, text in [("good", good), ("bad", bad_rule_script(monkeypatch)), ("fails", fails)]:
        (tmp_path / f"{name}.sh").write_text(text)
    out = run(["docker", "run", "--rm", "--network", "bridge", "--cap-add", "NET_ADMIN",
               "-v", f"{tmp_path}:/t:ro", image, "bash", "-c", SNAPSHOT], timeout=240)
    assert out.returncode == 0, out.output[-3000:]
    got = sections(out.stdout)
    before = got["before status"]
    assert "Status: active" in before
    ctx = Context(plan(PROJECT.load("prod")), ROOT / "generated" / "prod")
    assert status_rules(before) == expected_rules(ctx)
    assert "-A DOCKER-USER -j ufw-user-forward" in got["before docker-user"]

    assert got["bad rc"].strip() == "2", got["bad output"]
    assert "source '999.999.999.999/99' is not an IPv4 network" in got["bad output"]
    assert "nothing was changed" in got["bad output"]

    assert got["fails rc"].strip() == "1", got["fails output"]
    assert "ufw --force enable failed" in got["fails output"]
    assert "the previous rules are back in place (ufw was active)" in got["fails output"]

    for run_ in ("bad", "fails"):
        assert got[f"{run_} status"] == before, f"{run_}: ufw status verbose changed"
        assert got[f"{run_} docker-user"] == got["before docker-user"], f"{run_}: DOCKER-USER"
        assert got[f"{run_} files"] == got["before files"], f"{run_}: rules files changed"
