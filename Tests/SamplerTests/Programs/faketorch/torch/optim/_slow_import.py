# A module under torch/optim whose import takes ~0.8 s of CPU (as importing torch's optimizers
# does): launch-mode recordings must count it as startup, not optimizer.
import time

_end = time.perf_counter() + 0.8
while time.perf_counter() < _end:
    pass
