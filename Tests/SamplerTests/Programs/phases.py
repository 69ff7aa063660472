# A training-loop shape with known phase proportions (by spin iterations): data 1, forward 4,
# backward 3, optimizer 2, on top of the stand-in torch package in faketorch/.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "faketorch"))

import torch.autograd  # noqa: E402
from torch.nn.modules.module import Module  # noqa: E402
from torch.optim import SGD  # noqa: E402
from torch.spin import spin  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

UNIT = 30000


class Model(Module):
    def forward(self, x):
        return spin(4 * UNIT)


def main():
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 3600
    model, opt = Model(), SGD(2 * UNIT)
    print("ready", flush=True)
    end = time.time() + limit
    for batch in DataLoader(UNIT):
        model(batch)
        torch.autograd.backward(3 * UNIT)
        opt.step()
        if time.time() > end:
            break


if __name__ == "__main__":
    main()
