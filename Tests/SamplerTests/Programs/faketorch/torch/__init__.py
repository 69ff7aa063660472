# A stand-in for PyTorch with the file layout the sampler's phase rules look at (torch/utils/data,
# torch/nn/modules/module.py, torch/autograd, torch/optim) and no real work: each part spins.
