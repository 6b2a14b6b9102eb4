# SPDX-License-Identifier: MIT
"""The bash completion of gossipctl (src/ctl/gossipctl.bash), sourced in bash and driven
through COMP_WORDS: the commands and options gossipctl --help lists, and for -i the ports
of the running peers' control sockets in the runtime directory."""
import re
import subprocess

from conftest import STEADY
from gossipnet import BUILD, CTL_BIN, REPO, base_env, free_port, run_ctl

SCRIPT = REPO / "src" / "ctl" / "gossipctl.bash"
DRIVER = r'''
source "$0" || exit 1
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_gossipctl
printf '%s\n' "${COMPREPLY[@]}"
'''


def complete(*words, env=None):
    """COMPREPLY for the command line words, the last being the word completed."""
    env = dict(env or base_env(REPO))
    env["PATH"] = f"{BUILD}:{env['PATH']}"
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, str(SCRIPT),
                        "gossipctl", *words], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stderr == "", p
    return [w for w in p.stdout.split("\n") if w]


def help_section(title):
    text = subprocess.run([str(CTL_BIN), "--help"], capture_output=True, text=True).stdout
    return text.split(title + "\n", 1)[1].split("\n\n", 1)[0].splitlines()


def test_script_is_valid_and_registers_the_function():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    p = subprocess.run(["bash", "--norc", "-c", 'source "$0" && complete -p gossipctl',
                        str(SCRIPT)], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "complete -F _gossipctl gossipctl"


def test_commands_and_options_follow_the_help():
    commands = {m.group(1) for ln in help_section("Commands:")
                if (m := re.match(r"  ([a-z][a-z-]*)", ln))}
    options = {w.rstrip(",") for ln in help_section("Options:")
               for w in re.match(r"\s*((?:-\S+\s)+)", ln).group(1).split()}
    assert {"send", "status", "peers", "stats", "tail"} <= commands
    assert {"-s", "--socket", "-i", "--instance", "--json", "-t", "--timeout"} <= options
    assert sorted(complete("")) == sorted(commands)
    assert sorted(complete("st")) == ["stats", "status"]
    assert sorted(complete("-")) == sorted(options)
    assert complete("--j") == ["--json"]
    # After the options and their arguments, still the commands; after a command, its own.
    assert sorted(complete("--json", "-t", "5", "")) == sorted(commands)
    assert sorted(complete("tail", "-")) == ["--follow", "--lines", "-f", "-n"]
    assert complete("send", "-") == ["-", "--"]
    assert complete("status", "") == []
    assert complete("-t", "") == []


def test_instance_ports_of_running_sockets(network, tmp_path):
    net = network("complete", **STEADY)
    net.start_seeds(1)
    run = net.dir / "run"
    ports = [free_port() for _ in range(2)]
    peers = [net.add_peer(p, ctl_path=run / f"peer-{p}.sock", wait=False) for p in ports]
    for p in peers:
        p.wait_ready()
    # Files that are not control sockets are not instances.
    (run / "peer-1.sock").write_text("a regular file")
    (run / "peer-x.sock").mkdir()
    env = base_env(net.dir)  # GOSSIP_RUNTIME_DIR is net.dir/run
    got = complete("-i", "", env=env)
    assert set(map(str, ports)) <= set(got), got
    assert "1" not in got and "x" not in got
    assert got == sorted(got, key=int)
    first = str(min(ports))
    assert complete("--instance", first[:-1], env=env).count(first) == 1
    # A completed port names a peer gossipctl reaches.
    assert run_ctl(["-i", first, "status"], env).returncode == 0
    # Not in that directory: not offered.
    other = base_env(tmp_path, GOSSIP_RUNTIME_DIR=tmp_path)
    assert not set(map(str, ports)) & set(complete("-i", "", env=other))
    # A stopped peer removes its socket, and its port is no longer offered.
    peers[0].stop()
    got = complete("-i", "", env=env)
    assert str(ports[0]) not in got and str(ports[1]) in got
