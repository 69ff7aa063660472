from torch.spin import spin


class SGD:
    def __init__(self, work):
        self.work = work

    def step(self):
        spin(self.work)
