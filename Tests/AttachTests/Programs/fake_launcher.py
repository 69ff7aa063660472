# A stand-in for torchrun: starts N fake Kineto clients (fake_kineto.py) as its children, each
# with RANK set, and prints "ready" once all of them are. Args: N MODE INTERVAL CONFIG_DIR.
import os
import subprocess
import sys

n, rest = int(sys.argv[1]), sys.argv[2:]
here = os.path.dirname(os.path.abspath(__file__))
children = []
for rank in range(n):
    env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), KINETO_USE_DAEMON="1")
    children.append(subprocess.Popen([sys.executable, os.path.join(here, "fake_kineto.py")] + rest, env=env, stdout=subprocess.PIPE))
for c in children:
    c.stdout.readline()
print("ready", flush=True)
for c in children:
    c.wait()
