# A stand-in for Kineto's daemon client (no torch needed), speaking the IPC fabric as
# libkineto's IpcFabricConfigClient does: from its own abstract socket it sends `req` datagrams
# (type ACTIVITIES, its pid and its ancestors' pids) to @dynolog every INTERVAL seconds, and when
# the answer holds a config it acts on it as MODE says:
#   write  - writes a small Kineto trace to ACTIVITIES_LOG_FILE with `_PID` before `.json`
#            (through a `.tmp` file renamed at the end, as Kineto does), then keeps polling;
#   gzip   - the same, gzip-compressed, under the name Kineto would use;
#   exit   - exits at once without writing.
# The config text it got is saved to CONFIG_DIR/PID.config. It prints "ready" once started.
import gzip
import os
import socket
import struct
import sys
import time
import uuid

mode, interval, config_dir = sys.argv[1], float(sys.argv[2]), sys.argv[3]
pids = [os.getpid()]
while pids[-1] > 1 and len(pids) < 6:
    with open(f"/proc/{pids[-1]}/stat") as f:
        pids.append(int(f.read().rsplit(")", 1)[1].split()[1]))

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(("\0dynoconfigclient" + str(uuid.uuid4()) + "\0").encode())
sock.settimeout(0.09)
payload = struct.pack("<iiq", 2, len(pids), 0) + struct.pack(f"<{len(pids)}i", *pids)
request = struct.pack("<Q", len(payload)) + b"req".ljust(32, b"\0") + payload
print("ready", flush=True)


def trace(config):
    rank = os.environ.get("RANK", "0")
    events = []
    for k in range(5):
        t = 1000 + k * 100
        events.append('{"ph":"X","cat":"cpu_op","name":"aten::mm","pid":%d,"tid":1,"ts":%d,"dur":40}' % (os.getpid(), t))
        events.append('{"ph":"X","cat":"user_annotation","name":"Optimizer.step#SGD.step","pid":%d,"tid":1,"ts":%d,"dur":20}'
                      % (os.getpid(), t + 60))
    return ('{"schemaVersion":1,"distributedInfo":{"rank":%s,"world_size":2},"traceEvents":[%s]}' % (rank, ",".join(events))).encode()


while True:
    try:
        sock.sendto(request, b"\0dynolog\0")
        data = sock.recv(65536)
    except (ConnectionRefusedError, FileNotFoundError, socket.timeout):
        time.sleep(interval)
        continue
    size = struct.unpack_from("<Q", data)[0]
    config = data[40:40 + size].decode()
    if config:
        with open(os.path.join(config_dir, f"{os.getpid()}.config"), "w") as f:
            f.write(config)
        if mode == "exit":
            sys.exit(0)
        log = dict(line.split("=", 1) for line in config.splitlines())["ACTIVITIES_LOG_FILE"]
        name = log.replace(".json", f"_{os.getpid()}.json", 1)
        body = trace(config)
        with open(name + ".tmp", "wb") as f:
            f.write(gzip.compress(body) if mode == "gzip" else body)
        os.rename(name + ".tmp", name)
    time.sleep(interval)
