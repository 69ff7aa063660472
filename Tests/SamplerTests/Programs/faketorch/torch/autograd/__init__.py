from torch.spin import spin


def backward(work):
    spin(work)
