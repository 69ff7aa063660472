# Imports a slow module under torch/optim (startup), then runs SGD.step for a while (optimizer).
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "faketorch"))

import torch.optim._slow_import  # noqa: E402,F401
from torch.optim import SGD  # noqa: E402

opt = SGD(30000)
end = time.time() + float(sys.argv[1] if len(sys.argv) > 1 else 1)
while time.time() < end:
    opt.step()
