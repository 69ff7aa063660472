#!/usr/bin/env python3
"""Write synthetic, realistic Kineto (PyTorch profiler) GPU training traces of any size.

The output has the shape of a trace that torch.profiler exports for a DDP-trained
GPT-like model on NVIDIA GPUs (today's schema, pretty-printed the way Kineto does it:
one key per line, args on one line):

  top level   schemaVersion, deviceProperties, trace metadata, distributedInfo,
              displayTimeUnit, baseTimeNanoseconds, traceEvents [...], traceName
  per step    ProfilerStep#N (user_annotation) on the main thread, containing the
              phases `dataloader`, `forward` (with DistributedDataParallel.forward),
              `backward`, `optimizer` (with Optimizer.step#AdamW.step and
              Optimizer.zero_grad#AdamW.zero_grad) and a final loss.item() sync
  CPU         python_function frames (nn.Module: ..., _call_impl, forward, built-ins),
              cpu_op trees 2-5 deep with External id / Sequence number / Input Dims /
              Input type / Input Strides / Concrete Inputs / Ev Idx / Record function id,
              cuda_runtime cudaLaunchKernel / cudaMemcpyAsync / cudaMemsetAsync /
              cudaStreamSynchronize ..., fwdbwd flows (s on the forward op, f on the
              backward op), [memory] cpu_instant_events (alloc and free)
  backward    on a second thread "pt_autograd_0": autograd::engine::evaluate_function:
              XBackward0 > XBackward0 > aten ops, AccumulateGrad, and DDP gradient
              buckets: c10d::allreduce_ > record_param_comms > nccl:all_reduce
  GPU         pid = device, tid = stream: kernel / gpu_memcpy / gpu_memset on stream 7,
              ncclDevKernel_AllReduce_Sum_bf16_RING_LL(...) on stream 24 with the
              collective args; ac2g flows (s on the runtime call, f with bp "e" on the
              kernel); gpu_user_annotation spans
  metadata    process_name / process_labels / process_sort_index / thread_name /
              thread_sort_index M events, the "PyTorch Profiler" Trace span, the
              Iteration Start / Record Window End instants

Timestamps are integer nanoseconds written as microseconds with a 3-digit fraction,
relative to baseTimeNanoseconds. Every child lies inside its parent on the same thread.

Ranks: --rank R --world-size W writes rank R of a W-rank job. --ranks-dir DIR writes
DIR/rank{r}.pt.trace.json[.gz] for every rank. All ranks share the step schedule; each
rank runs its compute slower or faster by a small per-step jitter (about 1%), and
--slow-rank (default W-1) is --slow-factor (default 1.25) slower in every step, so the
other ranks wait for it inside their NCCL all-reduce kernels.

Runs to compare (stepscope diff): --seed changes every random draw (per-event noise and the
per-step --jitter, a Gaussian factor on each step's compute); the step length itself is calibrated
with seed 0, so two seeds of one configuration differ by noise only. --slow-op REGEX makes
the operators whose name matches REGEX (re.search over cpu_op / user_annotation names, e.g.
'^aten::layer_norm$' or 'flash_attention') --slow-factor times slower: their CPU time, everything
nested in them (child ops, runtime calls) and the GPU activities they launch; later events shift,
so nesting and stream order stay valid. With --slow-op there is no straggler rank (the factor
slows the operators instead). --warmup-steps N makes the first N steps --warmup-factor (default 3)
times slower, as in a run's warm-up.

Examples:
  python3 bench/gen_kineto.py --size-mb 20 --out /tmp/k20.json
  python3 bench/gen_kineto.py --size-mb 350 --out bench/.cache/kineto_350mb.json
  python3 bench/gen_kineto.py --size-mb 5 --gzip --out /tmp/k5.json.gz
  python3 bench/gen_kineto.py --size-mb 50 --ranks-dir /tmp/ranks --world-size 8
  python3 bench/gen_kineto.py --steps 12 --world-size 1 --slow-op '^aten::layer_norm$' --slow-factor 1.3 --out /tmp/ln.json
"""

import argparse
import gzip
import io
import os
import random
import re
import sys
import tempfile
import time

BASE_TIME_NS = 1790857026000000000   # baseTimeNanoseconds (shared by ranks on a host)
T0_NS = 4431171858134111             # first timestamp, ns relative to the base
HOST_PID = 2910249
MAIN_TID_OFF = 0
AUTOGRAD_TID_OFF = 9503
COMPUTE_STREAM = 7
NCCL_STREAM = 24
BF16 = "c10::BFloat16"


# ---------------------------------------------------------------------------
# Small helpers for static argument text
# ---------------------------------------------------------------------------

def strides(dims):
    out, acc = [], 1
    for d in reversed(dims):
        out.append(acc)
        acc *= d
    return list(reversed(out))


def jlist(x):
    """Python list of ints / lists -> JSON text, as Kineto prints it."""
    if isinstance(x, list):
        return "[" + ", ".join(jlist(v) for v in x) + "]"
    if isinstance(x, str):
        return '"' + x + '"'
    return str(x)


def shape_args(inputs):
    """inputs: list of (dims or None, type, concrete) -> the record_shapes args text."""
    dims, types, strs, conc = [], [], [], []
    for d, t, c in inputs:
        if d is None:
            dims.append([]); strs.append([])
        elif d and isinstance(d[0], list):      # TensorList
            dims.append(d); strs.append([strides(x) for x in d])
        else:
            dims.append(d); strs.append(strides(d))
        types.append(t)
        conc.append(c)
    return ('"Concrete Inputs": %s, "Input type": %s, "Input Strides": %s, "Input Dims": %s, '
            % (jlist(conc), jlist(types), jlist(strs), jlist(dims)))


def T(dims, typ=BF16):
    return (dims, typ, "")


def S(value, typ="Scalar"):
    return (None, typ, str(value))


def N():
    return (None, "", "")


def esc(s):
    return s.replace("%", "%%")


# ---------------------------------------------------------------------------
# Template nodes
# ---------------------------------------------------------------------------
OP, PY, LAUNCH, SYNC, COMM, WAITEV, AUTOGRAD = range(7)


class Node:
    __slots__ = ("kind", "fmt", "pre", "post", "children", "seq", "grad", "bwd_of",
                 "gpu_ua", "ua_fmt", "alloc", "frees", "launch", "tid", "flow_f", "keep", "slow")

    def __init__(self, kind, pre=0, post=0, children=()):
        self.kind = kind
        self.fmt = None
        self.pre = pre
        self.post = post
        self.children = list(children)
        self.seq = False         # op carries "Sequence number" (creates an autograd node)
        self.grad = None         # forward op: index into the grad-node table (fwdbwd flow start)
        self.bwd_of = None       # backward op: index of the forward op it differentiates (flow end)
        self.gpu_ua = False      # also emit a gpu_user_annotation over the kernels it launched
        self.ua_fmt = None
        self.alloc = 0           # bytes allocated when the op runs
        self.frees = 0           # backward: number of saved activations freed at the end
        self.launch = None       # LAUNCH/COMM/SYNC payload
        self.tid = 0
        self.flow_f = False      # backward op that receives the fwdbwd flow end
        self.keep = False        # forward activation: freed during backward, not at op end
        self.slow = False        # matches --slow-op: it and everything inside take --slow-factor longer


class Launch:
    __slots__ = ("rt_fmt", "gpu_fmt", "gpu_dur", "rt_dur", "kind", "bytes", "stream", "name")

    def __init__(self, rt_fmt, gpu_fmt, gpu_dur, rt_dur, kind, nbytes=0, stream=COMPUTE_STREAM):
        self.rt_fmt = rt_fmt
        self.gpu_fmt = gpu_fmt
        self.gpu_dur = gpu_dur
        self.rt_dur = rt_dur
        self.kind = kind
        self.bytes = nbytes
        self.stream = stream


# Kernel descriptions: name, grid, block, registers, shared memory, blocks/SM, warps/SM, occupancy
def K_GEMM(tile="128x256x64", wg="2x1x1"):
    return ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize%s_warpgroupsize%s_execute_segment_k_off_kernel__5x_cublas"
            % (tile, wg), [132, 1, 1], [384, 1, 1], 168, 232448, 1.0, 12.0, 0)


K_GEMM_NN = ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_nn_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_kernel__5x_cublas",
             [132, 1, 1], [384, 1, 1], 168, 232448, 1.0, 12.0, 0)
K_GEMM_NT = ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_nt_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas",
             [264, 1, 1], [384, 1, 1], 168, 231424, 2.0, 24.0, 0)
K_LN = ("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16, float>(int, float, c10::BFloat16 const*, c10::BFloat16 const*, c10::BFloat16 const*, float*, float*, c10::BFloat16*)",
        [8192, 1, 1], [128, 1, 1], 34, 0, 62.060606, 248.242424, 100)
K_LN_BWD_IN = ("void at::native::(anonymous namespace)::layer_norm_grad_input_kernel_vectorized<c10::BFloat16, float>(c10::BFloat16 const*, c10::BFloat16 const*, float const*, float const*, c10::BFloat16 const*, c10::BFloat16*, int)",
               [8192, 1, 1], [128, 1, 1], 40, 0, 62.060606, 248.242424, 100)
K_LN_BWD_GB = ("void at::native::(anonymous namespace)::GammaBetaBackwardCUDAKernelTemplate<c10::BFloat16, float, 32u, 32u, 256u, false, true, false>(long, long, c10::BFloat16 const*, c10::BFloat16 const*, float const*, float const*, c10::BFloat16*, c10::BFloat16*)",
               [64, 32, 1], [32, 32, 1], 64, 8192, 0.484848, 15.515152, 50)
K_FLASH_FWD = ("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t, Flash_kernel_traits<128, 128, 64, 4, cutlass::bfloat16_t> >, false, true, false, false, true, true, false, false>(pytorch_flash::Flash_fwd_params)",
               [16, 4, 16], [128, 1, 1], 255, 49152, 7.757576, 31.030303, 6)
K_FLASH_DOT = ("void pytorch_flash::flash_bwd_dot_do_o_kernel<true, Flash_bwd_kernel_traits<128, 64, 128, 8, 2, 4, 2, false, false, cutlass::bfloat16_t, Flash_kernel_traits<128, 64, 128, 8, cutlass::bfloat16_t> > >(pytorch_flash::Flash_bwd_params)",
               [32, 4, 16], [256, 1, 1], 40, 0, 15.515152, 124.121216, 100)
K_FLASH_BWD = ("void pytorch_flash::flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_traits<128, 64, 128, 8, 2, 4, 2, false, false, cutlass::bfloat16_t, Flash_kernel_traits<128, 64, 128, 8, cutlass::bfloat16_t> >, true, true, false, false, false, false, false>(pytorch_flash::Flash_bwd_params)",
               [32, 4, 16], [256, 1, 1], 255, 147456, 15.515152, 124.121216, 12)
K_FLASH_CVT = ("void pytorch_flash::flash_bwd_convert_dq_kernel<Flash_bwd_kernel_traits<128, 64, 128, 8, 2, 4, 2, false, false, cutlass::bfloat16_t, Flash_kernel_traits<128, 64, 128, 8, cutlass::bfloat16_t> > >(pytorch_flash::Flash_bwd_params, int)",
               [32, 4, 16], [256, 1, 1], 48, 32768, 15.515152, 124.121216, 75)
K_ADD = ("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, std::array<char*, 3ul> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, std::array<char*, 3ul>)",
         [16384, 1, 1], [128, 1, 1], 26, 0, 124.121216, 496.484863, 100)
K_COPY = ("void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl_nocast<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#12}::operator()() const::{lambda(c10::BFloat16)#1}>(at::TensorIteratorBase&, at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#12}::operator()() const::{lambda(c10::BFloat16)#1} const&)::{lambda(int)#1}>(int, at::native::gpu_kernel_impl_nocast<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#12}::operator()() const::{lambda(c10::BFloat16)#1}>(at::TensorIteratorBase&, at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#12}::operator()() const::{lambda(c10::BFloat16)#1} const&)::{lambda(int)#1})",
          [32768, 1, 1], [128, 1, 1], 30, 0, 248.242424, 992.969727, 100)
K_GELU = ("void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16)#1}, std::array<char*, 2ul> >(int, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16)#1}, std::array<char*, 2ul>)",
          [65536, 1, 1], [128, 1, 1], 28, 0, 496.484863, 1985.939453, 100)
K_GELU_BWD = ("void at::native::vectorized_elementwise_kernel<4, at::native::GeluBackwardCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16, c10::BFloat16)#1}, std::array<char*, 3ul> >(int, at::native::GeluBackwardCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#4}::operator()() const::{lambda(c10::BFloat16, c10::BFloat16)#1}, std::array<char*, 3ul>)",
              [65536, 1, 1], [128, 1, 1], 32, 0, 496.484863, 1985.939453, 100)
K_SUM = ("void at::native::reduce_kernel<128, 4, at::native::ReduceOp<c10::BFloat16, at::native::func_wrapper_t<float, at::native::sum_functor<c10::BFloat16, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, c10::BFloat16, 4, 4> >(at::native::ReduceOp<c10::BFloat16, at::native::func_wrapper_t<float, at::native::sum_functor<c10::BFloat16, float, float>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, unsigned int, c10::BFloat16, 4, 4>)",
         [64, 64, 1], [32, 16, 1], 40, 16, 31.030304, 496.484863, 100)
K_CAT = ("void at::native::(anonymous namespace)::CatArrayBatchedCopy_contig<at::native::(anonymous namespace)::OpaqueType<2u>, unsigned int, 3, 128, 1>(at::native::(anonymous namespace)::OpaqueType<2u>*, at::native::(anonymous namespace)::CatArrInputTensorMetadata<at::native::(anonymous namespace)::OpaqueType<2u>, unsigned int, 128, 1>, at::native::(anonymous namespace)::TensorSizeStride<unsigned int, 4u>, int, unsigned int)",
         [1056, 3, 1], [512, 1, 1], 30, 0, 24.0, 384.0, 100)
K_INDEX = ("void at::native::(anonymous namespace)::indexSelectLargeIndex<c10::BFloat16, long, unsigned int, 2, 2, -2, true>(at::cuda::detail::TensorInfo<c10::BFloat16, unsigned int>, at::cuda::detail::TensorInfo<c10::BFloat16 const, unsigned int>, at::cuda::detail::TensorInfo<long const, unsigned int>, int, int, unsigned int, unsigned int, long)",
           [8448, 1, 1], [128, 1, 1], 30, 0, 64.0, 256.0, 100)
K_ARANGE = ("void (anonymous namespace)::elementwise_kernel_with_index<int, at::native::arange_cuda_out(c10::Scalar const&, c10::Scalar const&, c10::Scalar const&, at::Tensor&)::{lambda()#1}::operator()() const::{lambda()#4}::operator()() const::{lambda(long)#1}>(int, at::native::arange_cuda_out(c10::Scalar const&, c10::Scalar const&, c10::Scalar const&, at::Tensor&)::{lambda()#1}::operator()() const::{lambda()#4}::operator()() const::{lambda(long)#1}, function_traits<at::native::arange_cuda_out(c10::Scalar const&, c10::Scalar const&, c10::Scalar const&, at::Tensor&)::{lambda()#1}::operator()() const::{lambda()#4}::operator()() const::{lambda(long)#1}>::result_type*)",
            [16, 1, 1], [128, 1, 1], 16, 0, 0.121212, 0.484848, 0)
K_SOFTMAX = ("void at::native::(anonymous namespace)::cunn_SoftMaxForward<8, c10::BFloat16, float, float, at::native::(anonymous namespace)::LogSoftMaxForwardEpilogue>(float*, c10::BFloat16 const*, int)",
             [8192, 1, 1], [1024, 1, 1], 38, 0, 62.060606, 1985.939453, 100)
K_SOFTMAX_BWD = ("void at::native::(anonymous namespace)::cunn_SoftMaxBackward<8, c10::BFloat16, float, float, at::native::(anonymous namespace)::LogSoftMaxBackwardEpilogue>(c10::BFloat16*, float const*, float const*, long)",
                 [8192, 1, 1], [1024, 1, 1], 40, 0, 62.060606, 1985.939453, 100)
K_NLL = ("void at::native::(anonymous namespace)::nll_loss_forward_reduce_cuda_kernel_2d<float, float, long>(float*, float*, float const*, long const*, float const*, bool, long, long, long, long)",
         [1, 1, 1], [1024, 1, 1], 32, 0, 0.007576, 0.242424, 1)
K_NLL_BWD = ("void at::native::(anonymous namespace)::nll_loss_backward_reduce_cuda_kernel_2d<float, long>(float*, float const*, long const*, float const*, float const*, bool, int, int, long, long)",
             [1, 1, 1], [1024, 1, 1], 24, 0, 0.007576, 0.242424, 1)
K_EMB_BWD = ("void at::native::(anonymous namespace)::compute_grad_weight<c10::BFloat16, long>(long const*, c10::BFloat16 const*, long const*, long, long, long const*, long, at::GenericPackedTensorAccessor<at::acc_type<c10::BFloat16, true>, 2ul, at::DefaultPtrTraits, long>)",
             [2048, 1, 1], [128, 1, 1], 40, 0, 15.515152, 62.060606, 100)
K_EMB_SCATTER = ("void at::native::(anonymous namespace)::sum_and_scatter<c10::BFloat16, long>(long const*, c10::BFloat16*, long, long const*, long const*, at::GenericPackedTensorAccessor<at::acc_type<c10::BFloat16, true>, 2ul, at::DefaultPtrTraits, long> const*, long const*, long, long)",
                 [2048, 1, 1], [128, 1, 1], 32, 0, 15.515152, 62.060606, 100)
K_SORT = ("void at_cuda_detail::cub::DeviceRadixSortOnesweepKernel<at_cuda_detail::cub::DeviceRadixSortPolicy<long, long, unsigned long long>::Policy900, false, long, long, unsigned long long, int, int, at_cuda_detail::cub::detail::identity_decomposer_t>(int*, int*, unsigned long long*, unsigned long long const*, long*, long const*, long*, long const*, int, int, int, at_cuda_detail::cub::detail::identity_decomposer_t)",
          [34, 1, 1], [384, 1, 1], 64, 34816, 0.257576, 3.090909, 2)


def foreach_kernel(functor, depth):
    t = "at::native::(anonymous namespace)::TensorListMetadata<%d>" % depth
    return ("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<%s, at::native::(anonymous namespace)::%s, float>(%s, at::native::(anonymous namespace)::%s, float)"
            % (t, functor, t, functor), [320, 1, 1], [512, 1, 1], 48, 0, 2.424242, 38.787879, 60)


class Model:
    def __init__(self, layers, d, heads, seq, batch, vocab):
        self.L, self.d, self.h, self.T, self.B, self.V = layers, d, heads, seq, batch, vocab
        self.BT = batch * seq


# ---------------------------------------------------------------------------
# The generator for one rank
# ---------------------------------------------------------------------------

class RankTrace:
    def __init__(self, a, rank, world, quiet=False):
        self.a = a
        self.rank = rank
        self.world = world
        self.device = rank % 8
        self.pid = HOST_PID + rank * 17
        self.main_tid = self.pid + MAIN_TID_OFF
        self.ag_tid = self.pid + AUTOGRAD_TID_OFF
        self.m = Model(a.layers, a.d_model, a.heads, a.seq_len, a.batch, a.vocab)
        self.quiet = quiet
        self.slow_rank = a.slow_rank if a.slow_rank is not None else world - 1
        self.slow_re = re.compile(a.slow_op) if getattr(a, "slow_op", None) else None
        self.slow_mult = 1.0          # > 1 while inside a --slow-op operator
        self.slow_matches = 0         # operators in the step template matching --slow-op
        self.clock_skew = random.Random(a.seed * 7919 + rank).randint(-40000, 40000) if world > 1 else 0
        self.grad_nodes = []          # forward grad-creating ops, in order
        self.gemm_dims = {}           # grad index of a forward gemm -> (din, dout)
        self.building_forward = False
        self.params = []              # (name, numel) in registration order
        self._build_fmt()
        self.template = self._build_step()

    # ------------------------------------------------------------------ formats
    def _build_fmt(self):
        pid, dev = self.pid, self.device
        self.S_FMT = ('  {\n    "ph": "s",\n    "id": %%d,\n    "pid": %s,\n    "tid": %%d,\n    "ts": %%d.%%03d,\n'
                      '    "cat": "%%s",\n    "name": "%%s"\n    \n  },\n' % pid)
        self.F_CPU_FMT = ('  {\n    "ph": "f",\n    "id": %%d,\n    "pid": %s,\n    "tid": %%d,\n    "ts": %%d.%%03d,\n'
                          '    "cat": "fwdbwd",\n    "name": "fwdbwd"\n    , "bp": "e"\n  },\n' % pid)
        self.F_GPU_FMT = ('  {\n    "ph": "f",\n    "id": %%d,\n    "pid": %d,\n    "tid": %%d,\n    "ts": %%d.%%03d,\n'
                          '    "cat": "ac2g",\n    "name": "ac2g"\n    , "bp": "e"\n  },\n' % dev)
        self.MEM_FMT = ('  {\n    "ph": "i",\n    \n    "cat": "cpu_instant_event",\n    "s": "t",\n    "name": "[memory]",\n'
                        '    "pid": %d,\n    "tid": %%d,\n    "ts": %%d.%%03d\n    ,\n    "args": {\n'
                        '      "Total Reserved": %%d, "Total Allocated": %%d, "Bytes": %%d, "Device Id": %d, "Device Type": 1, '
                        '"Addr": %%d, "finished": false, "Ev Idx": %%d\n    }\n  },\n' % (pid, dev))
        self.GUA_FMT = ('  {\n    "ph": "X",\n    "cat": "gpu_user_annotation",\n    "name": "%%s",\n    "pid": %d,\n'
                        '    "tid": %%d,\n    "ts": %%d.%%03d,\n    "dur": %%d.%%03d\n    ,\n    "args": {\n'
                        '      "External id": %%d\n    }\n  },\n' % dev)

    def x_head(self, cat, name, pid, tid):
        return ('  {\n    "ph": "X",\n    "cat": "%s",\n    "name": "%s",\n    "pid": %s,\n    "tid": %s,\n'
                '    "ts": %%d.%%03d,\n    "dur": %%d.%%03d\n    ,\n    "args": {\n      ' % (cat, esc(name), pid, tid))

    # ------------------------------------------------------------------ node builders
    def op(self, name, children=(), pre=2500, post=1800, args=None, grad=None, alloc=0,
           cat="cpu_op", tid=None, seq=None, bwd_of=None, gpu_ua=False, fwd_thread=0):
        """A cpu_op / user_annotation. grad: name of the autograd node it creates (forward)."""
        tid = self.main_tid if tid is None else tid
        n = Node(OP, pre, post, children)
        n.tid = tid
        n.alloc = alloc
        n.keep = bool(alloc) and self.building_forward
        n.gpu_ua = gpu_ua
        has_seq = grad is not None or bwd_of is not None or seq
        n.seq = has_seq
        head = self.x_head(cat, name, self.pid, tid)
        static = esc(args) if args else ""
        if has_seq:
            n.fmt = (head + '"External id": %%d,"Sequence number": %%d, "Fwd thread id": %d, '
                     '"Record function id": 0, %s"Ev Idx": %%d\n    }\n  },\n' % (fwd_thread, static))
        else:
            n.fmt = head + '"External id": %%d,"Record function id": 0, %s"Ev Idx": %%d\n    }\n  },\n' % static
        if gpu_ua:
            n.ua_fmt = name
        if grad is not None:
            n.grad = len(self.grad_nodes)
            self.grad_nodes.append((grad, n))
        n.bwd_of = bwd_of
        if self.slow_re is not None and self.slow_re.search(name):
            n.slow = True
            self.slow_matches += 1
        return n

    def ua(self, name, children=(), pre=1500, post=1500, gpu_ua=False, tid=None):
        return self.op(name, children, pre, post, cat="user_annotation", gpu_ua=gpu_ua, tid=tid)

    def py(self, name, children=(), pre=1200, post=900, call_from="", module_id=None, tid=None):
        tid = self.main_tid if tid is None else tid
        n = Node(PY, pre, post, children)
        n.tid = tid
        head = self.x_head("python_function", name, self.pid, tid)
        cf = '"CallFrom": "%s", ' % esc(call_from) if call_from else ""
        mod = '"Python module id": %d, ' % module_id if module_id is not None else ""
        n.fmt = head + cf + '"Python parent id": %d, "Python id": %d, ' + mod + '"Ev Idx": %d\n    }\n  },\n'
        return n

    def launch(self, kernel, gpu_us, rt="cudaLaunchKernel", cbid=211, rt_us=5.0, kind="kernel",
               nbytes=0, memcpy_name=None, stream=COMPUTE_STREAM, extra_args=""):
        rt_fmt = (self.x_head("cuda_runtime", rt, self.pid, "%d") +
                  '"External id": %%d, "cbid": %d, "correlation": %%d\n    }\n  },\n' % cbid)
        if kind == "kernel":
            name, grid, block, regs, shm, bps, wps, occ = kernel
            gpu_fmt = (self.x_head("kernel", name, self.device, stream) +
                       '"External id": %%d, "queued": 0, "device": %d, "context": 1, "stream": %d, "correlation": %%d, '
                       '"registers per thread": %d, "shared memory": %d, "blocks per SM": %s, "warps per SM": %s, '
                       '"grid": %s, "block": %s, "est. achieved occupancy %%%%": %d%s\n    }\n  },\n'
                       % (self.device, stream, regs, shm, bps, wps, jlist(grid), jlist(block), occ, extra_args))
        elif kind == "memcpy":
            gpu_fmt = (self.x_head("gpu_memcpy", memcpy_name, self.device, stream) +
                       '"External id": %%d, "device": %d, "context": 1, "stream": %d, "correlation": %%d, '
                       '"bytes": %d, "memory bandwidth (GB/s)": %%s\n    }\n  },\n' % (self.device, stream, nbytes))
        else:  # memset
            gpu_fmt = (self.x_head("gpu_memset", "Memset (Device)", self.device, stream) +
                       '"External id": %%d, "device": %d, "context": 1, "stream": %d, "correlation": %%d, '
                       '"bytes": %d, "memory bandwidth (GB/s)": %%s\n    }\n  },\n' % (self.device, stream, nbytes))
        n = Node(LAUNCH, 700, 600)
        n.launch = Launch(rt_fmt, gpu_fmt, int(gpu_us * 1000), int(rt_us * 1000), kind, nbytes, stream)
        return n

    def runtime_only(self, rt, cbid, rt_us, kind=WAITEV):
        n = Node(kind, 500, 500)
        n.launch = Launch(self.x_head("cuda_runtime", rt, self.pid, "%d") +
                          '"External id": %%d, "cbid": %d, "correlation": %%d\n    }\n  },\n' % cbid,
                          None, 0, int(rt_us * 1000), "runtime")
        return n

    # ------------------------------------------------------------------ model pieces
    def gemm_us(self, m, n, k):
        return 2.0 * m * n * k / 520e12 * 1e6 + 6.0

    def mem_us(self, nbytes):
        return nbytes / 2.6e12 * 1e6 + 3.0

    def linear(self, mod_name, mod_id, din, dout, bias=True, call_from="model.py:40"):
        m = self.m
        x = [m.B, m.T, din]
        fl = [m.BT, din]
        self.params.append((mod_name + ".weight", din * dout))
        if bias:
            self.params.append((mod_name + ".bias", dout))
        t = self.op("aten::t", [self.op("aten::transpose", [self.op("aten::as_strided", pre=600, post=500,
                                                                       args=shape_args([T([dout, din]), S("[%d, %d]" % (din, dout), "ScalarList"), S("[1, %d]" % din, "ScalarList"), N()]))],
                                       pre=1200, post=800, args=shape_args([T([dout, din]), S(0), S(1)]))],
                    pre=1500, post=900, args=shape_args([T([dout, din])]), grad="TBackward0")
        v1 = self.op("aten::view", pre=1500, post=900, args=shape_args([T(x), S("[%d, %d]" % (m.BT, din), "ScalarList")]), grad="ViewBackward0")
        out_bytes = m.BT * dout * 2
        if bias:
            mm = self.op("aten::addmm", [self.launch(K_GEMM(), self.gemm_us(m.BT, dout, din), rt_us=6.5)],
                         pre=4000, post=2500, alloc=out_bytes,
                         args=shape_args([T([dout]), T(fl), T([din, dout]), S(1), S(1)]), grad="AddmmBackward0")
        else:
            mm = self.op("aten::mm", [self.launch(K_GEMM(), self.gemm_us(m.BT, dout, din), rt_us=6.5)],
                         pre=3500, post=2200, alloc=out_bytes, args=shape_args([T(fl), T([din, dout])]), grad="MmBackward0")
        self.gemm_dims[mm.grad] = (din, dout)
        v2 = self.op("aten::view", pre=1300, post=800, args=shape_args([T([m.BT, dout]), S("[%d, %d, %d]" % (m.B, m.T, dout), "ScalarList")]),
                     grad="ViewBackward0")
        lin = self.op("aten::linear", [t, v1, mm, v2], pre=2500, post=1500,
                      args=shape_args([T(x), T([dout, din]), T([dout]) if bias else N()]))
        return self.module(mod_name, mod_id, "torch/nn/modules/linear.py(125): forward", call_from,
                           [self.py("<built-in function linear>", [lin], call_from="torch/nn/modules/linear.py:125", pre=800, post=600)])

    def leaf(self, name, call_from, us=0.6):
        """A tiny python call with no children (attribute lookups, isinstance, ...)."""
        ns = int(us * 500)
        return self.py(name, [], call_from=call_from, pre=ns, post=ns)

    def module(self, cls_name, mod_id, fwd, call_from, children):
        fwd_file = fwd.split("(")[0]
        fwd_line = int(fwd.split("(")[1].split(")")[0])
        getattrs = [self.leaf("torch/nn/modules/module.py(1963): __getattr__", "%s:%d" % (fwd_file, fwd_line + 1), 0.9)
                    for _ in range(2)]
        return self.py("nn.Module: %s" % cls_name, [
            self.py("torch/nn/modules/module.py(1791): _call_impl", [
                self.leaf("<built-in method _is_tracing of pybind11_builtins.pybind11_detail_function_record_v1_system_libstdcpp_gxx_abi_1xxx_use_cxx11_abi_1 object at 0x7f3b1d7c3e70>",
                          "torch/nn/modules/module.py:1795", 0.4),
                self.py(fwd, getattrs + children, call_from="torch/nn/modules/module.py:1805", pre=1500, post=1000)
            ], call_from=call_from, pre=900, post=600)
        ], call_from=call_from, module_id=mod_id, pre=600, post=400)

    def layer_norm(self, name, mod_id, call_from):
        m = self.m
        x = [m.B, m.T, m.d]
        self.params += [(name + ".weight", m.d), (name + ".bias", m.d)]
        ln = self.op("aten::layer_norm", [
            self.op("aten::native_layer_norm", [
                self.op("aten::empty", pre=900, post=700, args=shape_args([S("[%d, %d, %d]" % (m.B, m.T, 1), "ScalarList"), S(15), S(0), S("cuda:%d" % self.device, "Device"), S("False"), N()])),
                self.op("aten::empty", pre=600, post=500, args=shape_args([S("[%d, %d, %d]" % (m.B, m.T, 1), "ScalarList"), S(6), S(0), S("cuda:%d" % self.device, "Device"), S("False"), N()])),
                self.launch(K_LN, self.mem_us(m.BT * m.d * 4) + 4, rt_us=5.5),
            ], pre=3000, post=2000, alloc=m.BT * m.d * 2 + m.BT * 8,
                args=shape_args([T(x), S("[%d]" % m.d, "ScalarList"), T([m.d]), T([m.d]), S("1e-05")]), grad="NativeLayerNormBackward0"),
        ], pre=2000, post=1200, args=shape_args([T(x), S("[%d]" % m.d, "ScalarList"), T([m.d]), T([m.d]), S("1e-05"), S("True")]))
        return self.module("LayerNorm_%d" % mod_id, mod_id, "torch/nn/modules/normalization.py(229): forward", call_from, [
            self.py("torch/nn/functional.py(2900): layer_norm", [
                self.leaf("<built-in function _has_torch_function_variadic>", "torch/nn/functional.py:2908", 0.5),
                self.py("<built-in method layer_norm of type object at 0x7f3b1d6a2f40>", [ln],
                        call_from="torch/nn/functional.py:2910", pre=700, post=500)
            ], call_from="torch/nn/modules/normalization.py:229")])

    def elementwise(self, name, kernel, grad, nbytes_io, out_bytes, inputs, pyname=None, call_from="model.py:60"):
        op = self.op(name, [self.launch(kernel, self.mem_us(nbytes_io), rt_us=5.0)], pre=3500, post=2000,
                     alloc=out_bytes, args=shape_args(inputs), grad=grad)
        if pyname:
            return self.py(pyname, [op], call_from=call_from, pre=800, post=600)
        return op

    def attention(self, i, mod_base):
        m = self.m
        d, h = m.d, m.h
        dh = d // h
        x = [m.B, m.T, d]
        qkv = [m.B, m.T, 3 * d]
        head = [m.B, m.T, h, dh]
        headT = [m.B, h, m.T, dh]
        ch = [self.linear("Linear_%d" % (mod_base + 1), mod_base + 1, d, 3 * d, call_from="model.py:31")]
        split = self.op("aten::split", [
            self.op("aten::narrow", [self.op("aten::slice", [self.op("aten::as_strided", pre=500, post=400, args=shape_args([T(qkv), S("[%d, %d, %d]" % tuple(x), "ScalarList"), S("[%d, %d, 1]" % (m.T * 3 * d, 3 * d), "ScalarList"), S(j * d)]))],
                                                     pre=900, post=700, args=shape_args([T(qkv), S(2), S(j * d), S((j + 1) * d), S(1)]))],
                    pre=1200, post=800, args=shape_args([T(qkv), S(2), S(j * d), S(d)])) for j in range(3)
        ], pre=2000, post=1200, args=shape_args([T(qkv), S(d), S(2)]), grad="SplitWithSizesBackward0")
        ch.append(self.py("<built-in method split of Tensor object at 0x7f3a0c3e1b20>", [split], call_from="model.py:32", pre=700, post=500))
        for j in range(3):
            ch.append(self.op("aten::view", pre=1200, post=700, args=shape_args([T(x), S("[%d, %d, %d, %d]" % tuple(head), "ScalarList")]), grad="ViewBackward0"))
            ch.append(self.op("aten::transpose", [self.op("aten::as_strided", pre=500, post=400, args=shape_args([T(head), S("[%d, %d, %d, %d]" % tuple(headT), "ScalarList"), S("[%d, %d, %d, 1]" % (m.T * 3 * d, dh, 3 * d), "ScalarList"), N()]))],
                              pre=1300, post=800, args=shape_args([T(head), S(1), S(2)]), grad="TransposeBackward0"))
        fa_bytes = m.BT * d * 2 + m.B * h * m.T * 4
        fa_us = 4.0 * m.B * h * m.T * m.T * dh / 2 / 430e12 * 1e6 + 10
        sdpa = self.op("aten::scaled_dot_product_attention", [
            self.op("aten::_scaled_dot_product_flash_attention", [
                self.op("aten::_flash_attention_forward", [
                    self.op("aten::empty_like", [self.op("aten::empty_strided", pre=900, post=600, args=shape_args([S("[%d, %d, %d, %d]" % tuple(head), "ScalarList"), S("[%d, %d, %d, 1]" % (m.T * d, d, dh), "ScalarList"), S(15), S(0), S("cuda:%d" % self.device, "Device"), S("False")]))],
                            pre=1000, post=600, args=shape_args([T(head), S(15), S(0), S("cuda:%d" % self.device, "Device"), S("False"), N()])),
                    self.op("aten::empty", pre=800, post=600, args=shape_args([S("[%d, %d, %d]" % (m.B, h, m.T), "ScalarList"), S(6), S(0), S("cuda:%d" % self.device, "Device"), S("False"), N()])),
                    self.launch(K_FLASH_FWD, fa_us, rt="cudaLaunchKernelExC", cbid=430, rt_us=7.0),
                ], pre=3000, post=2500, alloc=fa_bytes, args=shape_args([T(head), T(head), T(head), N(), N(), S(m.T), S(m.T), S("0."), S("True"), S("False"), N()])),
            ], pre=3000, post=2000, args=shape_args([T(headT), T(headT), T(headT), S("0."), S("True"), S("False"), N()]), grad="ScaledDotProductFlashAttentionBackward0"),
        ], pre=2500, post=1500, args=shape_args([T(headT), T(headT), T(headT), N(), S("0."), S("True"), N(), S("False")]))
        ch.append(self.py("<built-in function scaled_dot_product_attention>", [sdpa], call_from="model.py:38", pre=800, post=600))
        ch.append(self.op("aten::transpose", [self.op("aten::as_strided", pre=500, post=400, args=shape_args([T(headT), S("[%d, %d, %d, %d]" % tuple(head), "ScalarList"), S("[%d, %d, %d, 1]" % (m.T * d, dh, d), "ScalarList"), N()]))],
                          pre=1300, post=800, args=shape_args([T(headT), S(1), S(2)]), grad="TransposeBackward0"))
        clone = self.op("aten::contiguous", [
            self.op("aten::clone", [
                self.op("aten::empty_like", [self.op("aten::empty_strided", pre=900, post=600, args=shape_args([S("[%d, %d, %d, %d]" % tuple(head), "ScalarList"), S("[%d, %d, %d, 1]" % (m.T * d, d, dh), "ScalarList"), S(15), S(0), S("cuda:%d" % self.device, "Device"), S("False")]))],
                        pre=1000, post=600, args=shape_args([T(head), S(15), S(0), S("cuda:%d" % self.device, "Device"), S("False"), S(0)])),
                self.op("aten::copy_", [self.launch(K_COPY, self.mem_us(m.BT * d * 4), rt_us=5.0)], pre=2500, post=1500,
                        args=shape_args([T(head), T(head), S("False")])),
            ], pre=2000, post=1200, alloc=m.BT * d * 2, args=shape_args([T(head), S(0)]), grad="CloneBackward0"),
        ], pre=1500, post=1000, args=shape_args([T(head), S(0)]))
        ch.append(self.py("<built-in method contiguous of Tensor object at 0x7f3a0c3e1c60>", [clone], call_from="model.py:39", pre=700, post=500))
        ch.append(self.op("aten::view", pre=1200, post=700, args=shape_args([T(head), S("[%d, %d, %d]" % tuple(x), "ScalarList")]), grad="ViewBackward0"))
        ch.append(self.linear("Linear_%d" % (mod_base + 2), mod_base + 2, d, d, call_from="model.py:40"))
        return self.module("CausalSelfAttention_%d" % i, mod_base, "model.py(29): forward", "model.py:57", ch)

    def block(self, i):
        m = self.m
        d = m.d
        x = [m.B, m.T, d]
        base = 10 + i * 10
        ch = [self.layer_norm("LayerNorm_%d" % (base + 1), base + 1, "model.py:57")]
        ch.append(self.attention(i, base + 2))
        ch.append(self.elementwise("aten::add", K_ADD, "AddBackward0", m.BT * d * 6, m.BT * d * 2, [T(x), T(x), S(1)]))
        ch.append(self.layer_norm("LayerNorm_%d" % (base + 5), base + 5, "model.py:58"))
        mlp = [self.linear("Linear_%d" % (base + 7), base + 7, d, 4 * d, call_from="model.py:47"),
               self.elementwise("aten::gelu", K_GELU, "GeluBackward0", m.BT * 4 * d * 4, m.BT * 4 * d * 2,
                                [T([m.B, m.T, 4 * d]), S("none", "str")], pyname="<built-in function gelu>", call_from="model.py:48"),
               self.linear("Linear_%d" % (base + 8), base + 8, 4 * d, d, call_from="model.py:49")]
        ch.append(self.module("MLP_%d" % i, base + 6, "model.py(46): forward", "model.py:58", mlp))
        ch.append(self.elementwise("aten::add", K_ADD, "AddBackward0", m.BT * d * 6, m.BT * d * 2, [T(x), T(x), S(1)]))
        return self.module("Block_%d" % i, base, "model.py(56): forward", "model.py:121", ch)

    def embedding(self, name, mod_id, rows, n_idx, idx_dims):
        m = self.m
        self.params.append((name + ".weight", rows * m.d))
        emb = self.op("aten::embedding", [
            self.op("aten::reshape", [self.op("aten::view", pre=800, post=500, args=shape_args([T(idx_dims, "long int"), S("[-1]", "ScalarList")]))],
                    pre=1200, post=800, args=shape_args([T(idx_dims, "long int"), S("[-1]", "ScalarList")])),
            self.op("aten::index_select", [self.launch(K_INDEX, self.mem_us(n_idx * m.d * 4), rt_us=5.5)], pre=3000, post=2000,
                    alloc=n_idx * m.d * 2, args=shape_args([T([rows, m.d]), S(0), T([n_idx], "long int")])),
            self.op("aten::view", pre=900, post=600, args=shape_args([T([n_idx, m.d]), S("[%s, %d]" % (", ".join(map(str, idx_dims)), m.d), "ScalarList")])),
        ], pre=2500, post=1500, args=shape_args([T([rows, m.d]), T(idx_dims, "long int"), S(-1), S("False"), S("False")]), grad="EmbeddingBackward0")
        return self.module("Embedding_%d" % mod_id, mod_id, "torch/nn/modules/sparse.py(190): forward", "model.py:116", [
            self.py("torch/nn/functional.py(2463): embedding", [
                self.py("<built-in method embedding of type object at 0x7f3b1d6a2f40>", [emb], call_from="torch/nn/functional.py:2551", pre=700, post=500)
            ], call_from="torch/nn/modules/sparse.py:190")])

    def forward(self):
        m = self.m
        ch = [self.embedding("Embedding_1", 1, m.V, m.BT, [m.B, m.T])]
        ch.append(self.py("<built-in method arange of type object at 0x7f3b1d6a2f40>", [
            self.op("aten::arange", [
                self.op("aten::empty", pre=800, post=600, args=shape_args([S("[0]", "ScalarList"), S(4), N(), S("cuda:%d" % self.device, "Device"), S("False"), N()])),
                self.op("aten::arange", [self.op("aten::resize_", pre=900, post=600, args=shape_args([T([0], "long int"), S("[%d]" % m.T, "ScalarList"), N()])),
                                         self.launch(K_ARANGE, 2.4, rt_us=5.0)], pre=2500, post=1500, alloc=m.T * 8,
                        args=shape_args([S(0), S(m.T), S(1), T([0], "long int")])),
            ], pre=2500, post=1500, args=shape_args([S(m.T), S(4), N(), S("cuda:%d" % self.device, "Device"), S("False")]))
        ], call_from="model.py:117", pre=800, post=600))
        ch.append(self.embedding("Embedding_2", 2, m.T, m.T, [m.T]))
        ch.append(self.elementwise("aten::add", K_ADD, "AddBackward0", m.BT * m.d * 6, m.BT * m.d * 2,
                                   [T([m.B, m.T, m.d]), T([m.T, m.d]), S(1)]))
        for i in range(m.L):
            ch.append(self.block(i))
        ch.append(self.layer_norm("LayerNorm_3", 3, "model.py:123"))
        ch.append(self.linear("Linear_4", 4, m.d, m.V, bias=False, call_from="model.py:124"))
        gpt = self.module("GPT_0", 0, "model.py(112): forward", "torch/nn/parallel/distributed.py:1638", ch)
        ddp = self.py("nn.Module: DistributedDataParallel_0", [
            self.py("torch/nn/modules/module.py(1791): _call_impl", [
                self.py("torch/nn/parallel/distributed.py(1676): forward", [
                    self.py("torch/nn/parallel/distributed.py(1499): _pre_forward", [
                        self.leaf("torch/_jit_internal.py(104): is_scripting", "torch/nn/parallel/distributed.py:1503"),
                        self.leaf("torch/compiler/__init__.py(583): is_compiling", "torch/nn/parallel/distributed.py:1505"),
                    ], call_from="torch/nn/parallel/distributed.py:1682", pre=9000, post=6000),
                    self.py("torch/nn/parallel/distributed.py(1624): _run_ddp_forward", [gpt], call_from="torch/nn/parallel/distributed.py:1690"),
                    self.py("torch/nn/parallel/distributed.py(1573): _post_forward", [
                        self.leaf("torch/_jit_internal.py(104): is_scripting", "torch/nn/parallel/distributed.py:1577"),
                    ], call_from="torch/nn/parallel/distributed.py:1693", pre=7000, post=5000),
                ], call_from="torch/nn/modules/module.py:1805")
            ], call_from="train.py:88")
        ], call_from="train.py:88", module_id=100000)
        logits = [m.BT, m.V]
        loss = self.op("aten::cross_entropy_loss", [
            self.op("aten::log_softmax", [
                self.op("aten::_log_softmax", [self.launch(K_SOFTMAX, self.mem_us(m.BT * m.V * 6), rt_us=5.5)], pre=3000, post=2000,
                        alloc=m.BT * m.V * 2, args=shape_args([T(logits), S(1), S("False")]))
            ], pre=2000, post=1200, args=shape_args([T(logits), S(1), N()]), grad="LogSoftmaxBackward0"),
            self.op("aten::nll_loss_nd", [
                self.op("aten::nll_loss", [
                    self.op("aten::nll_loss_forward", [self.launch(K_NLL, 95.0, rt_us=5.0)], pre=3000, post=2000, alloc=1024,
                            args=shape_args([T(logits), T([m.BT], "long int"), N(), S(1), S(-100)]))
                ], pre=2000, post=1200, args=shape_args([T(logits), T([m.BT], "long int"), N(), S(1), S(-100)]), grad="NllLossBackward0")
            ], pre=1800, post=1000, args=shape_args([T(logits), T([m.BT], "long int"), N(), S(1), S(-100)])),
        ], pre=2500, post=1500, args=shape_args([T(logits), T([m.BT], "long int"), N(), S(1), S(-100), S("0.")]))
        lossp = self.py("torch/nn/functional.py(3424): cross_entropy", [
            self.py("<built-in function cross_entropy_loss>", [loss], call_from="torch/nn/functional.py:3462", pre=700, post=500)
        ], call_from="train.py:89")
        fwd_ch = [self.ua("DistributedDataParallel.forward", [ddp], gpu_ua=True), lossp]
        if self.a.phases:
            return [self.ua("forward", fwd_ch, gpu_ua=True)]
        return fwd_ch

    # ------------------------------------------------------------------ backward
    def backward_nodes(self):
        """Autograd-thread template: evaluate_function nodes in reverse forward order,
        AccumulateGrad after parameter-producing nodes, DDP buckets all-reduced as they fill."""
        m = self.m
        tid = self.ag_tid
        d = m.d
        nodes = []
        bucket_cap = 25 * 1024 * 1024
        first_cap = 1024 * 1024
        bucket_bytes = 0
        bucket_elems = 0
        n_buckets = 0
        # parameters in reverse registration order are consumed by the grad nodes that produce them
        params = list(reversed(self.params))
        pi = 0

        def ev(name, inner, pre=3000, post=2500, bwd_of=None, frees=1):
            inner_op = self.op(name, inner, pre=2500, post=1800, tid=tid, bwd_of=bwd_of, fwd_thread=1)
            inner_op.flow_f = True
            fn = self.op("autograd::engine::evaluate_function: %s" % name, [inner_op],
                         pre=pre, post=post, tid=tid, bwd_of=bwd_of, fwd_thread=1)
            fn.frees = frees
            return fn

        def o(name, children=(), args=None, alloc=0, pre=2500, post=1800):
            return self.op(name, children, pre=pre, post=post, args=args, alloc=alloc, tid=tid)

        def L(kernel, us, **kw):
            return self.launch(kernel, us, **kw)

        def t_op(dims):
            return o("aten::t", [o("aten::transpose", [o("aten::as_strided", pre=500, post=400)], pre=1100, post=700,
                                   args=shape_args([T(dims), S(0), S(1)]))], pre=1400, post=900, args=shape_args([T(dims)]))

        def accumulate(pname, numel):
            nonlocal bucket_bytes, bucket_elems, n_buckets
            out = [self.op("autograd::engine::evaluate_function: torch::autograd::AccumulateGrad", [
                self.op("torch::autograd::AccumulateGrad", [
                    o("aten::detach", [o("detach", pre=700, post=600)], pre=1200, post=900, args=shape_args([T([numel])]))
                ], pre=2000, post=1500, tid=tid)
            ], pre=2500, post=2000, tid=tid)]
            bucket_bytes += numel * 2
            bucket_elems += numel
            cap = first_cap if n_buckets == 0 else bucket_cap
            if bucket_bytes >= cap:
                out += self.allreduce(bucket_elems, tid)
                n_buckets += 1
                bucket_bytes = 0
                bucket_elems = 0
            return out

        grads = list(reversed(self.grad_nodes))
        for gi_rev, (gname, fnode) in enumerate(grads):
            gi = len(grads) - 1 - gi_rev
            inner = []
            nparams = 0
            if gname in ("AddmmBackward0", "MmBackward0"):
                # recover dims from the forward gemm's launch
                k = fnode.children[0].launch
                us = k.gpu_dur / 1000.0
                din, dout = self.gemm_dims[gi]
                gout = [m.BT, dout]
                inner = [t_op([din, dout]),
                         o("aten::mm", [L(K_GEMM_NN, us, rt_us=6.5)], alloc=m.BT * din * 2, pre=3500, post=2200,
                           args=shape_args([T(gout), T([dout, din])])),
                         t_op([m.BT, dout]),
                         o("aten::mm", [L(K_GEMM_NT, us * 1.05, rt_us=6.5)], pre=3500, post=2200,
                           args=shape_args([T([dout, m.BT]), T([m.BT, din])])),
                         t_op([dout, din])]
                if gname == "AddmmBackward0":
                    inner.append(o("aten::sum", [L(K_SUM, 28.0)], pre=3500, post=2000, alloc=dout * 2,
                                   args=shape_args([T(gout), S("[0]", "ScalarList"), S("True"), N()])))
                    nparams = 2
                else:
                    nparams = 1
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "NativeLayerNormBackward0":
                inner = [o("aten::native_layer_norm_backward", [
                    o("aten::empty_like", [o("aten::empty_strided", pre=800, post=500)], pre=1000, post=600),
                    L(K_LN_BWD_IN, self.mem_us(m.BT * d * 8)), L(K_LN_BWD_GB, 41.0)], pre=3500, post=2500, alloc=m.BT * d * 2)]
                nparams = 2
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "ScaledDotProductFlashAttentionBackward0":
                fa_us = 4.0 * m.B * m.h * m.T * m.T * (d // m.h) / 2 / 430e12 * 1e6 * 2.4
                inner = [o("aten::_scaled_dot_product_flash_attention_backward", [
                    o("aten::_flash_attention_backward", [
                        o("aten::empty_like", [o("aten::empty_strided", pre=800, post=500)], pre=1000, post=600),
                        o("aten::empty_like", [o("aten::empty_strided", pre=800, post=500)], pre=900, post=600),
                        o("aten::empty_like", [o("aten::empty_strided", pre=800, post=500)], pre=900, post=600),
                        L(K_FLASH_DOT, 22.0, rt="cudaLaunchKernelExC", cbid=430, rt_us=7.0),
                        o("aten::zeros", [o("aten::zero_", [o("aten::fill_", [L(None, 9.0, rt="cudaMemsetAsync", cbid=51, kind="memset", nbytes=m.BT * d * 4)],
                                                              pre=2000, post=1200)], pre=1500, post=900)], pre=2000, post=1200, alloc=m.BT * d * 4),
                        L(K_FLASH_BWD, fa_us, rt="cudaLaunchKernelExC", cbid=430, rt_us=7.0),
                        L(K_FLASH_CVT, 18.0, rt="cudaLaunchKernelExC", cbid=430, rt_us=6.0),
                    ], pre=3500, post=3000, alloc=m.BT * d * 6)
                ], pre=3000, post=2000)]
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "GeluBackward0":
                inner = [o("aten::gelu_backward", [L(K_GELU_BWD, self.mem_us(m.BT * 4 * d * 6))], pre=3500, post=2000, alloc=m.BT * 4 * d * 2)]
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "SplitWithSizesBackward0":
                inner = [o("aten::cat", [L(K_CAT, self.mem_us(m.BT * 3 * d * 4))], pre=4000, post=2500, alloc=m.BT * 3 * d * 2)]
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "LogSoftmaxBackward0":
                inner = [o("aten::_log_softmax_backward_data", [L(K_SOFTMAX_BWD, self.mem_us(m.BT * m.V * 6))], pre=3500, post=2000, alloc=m.BT * m.V * 2)]
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "NllLossBackward0":
                inner = [o("aten::nll_loss_backward", [
                    o("aten::zeros_like", [o("aten::zero_", [o("aten::fill_", [L(None, 60.0, rt="cudaMemsetAsync", cbid=51, kind="memset", nbytes=m.BT * m.V * 2)],
                                                                 pre=2000, post=1200)], pre=1500, post=900)], pre=2000, post=1200, alloc=m.BT * m.V * 2),
                    L(K_NLL_BWD, 60.0)], pre=3500, post=2200)]
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "EmbeddingBackward0":
                inner = [o("aten::embedding_backward", [o("aten::embedding_dense_backward", [
                    o("aten::sort", [L(K_SORT, 35.0), L(K_SORT, 33.0)], pre=4000, post=2500, alloc=m.BT * 16),
                    o("aten::zeros", [o("aten::zero_", [o("aten::fill_", [L(None, 40.0, rt="cudaMemsetAsync", cbid=51, kind="memset", nbytes=m.V * d * 2)],
                                                          pre=2000, post=1200)], pre=1500, post=900)], pre=2000, post=1200),
                    L(K_EMB_BWD, 80.0), L(K_EMB_SCATTER, 40.0)], pre=3500, post=2500)], pre=2500, post=1500)]
                nparams = 1
                nodes.append(ev(gname, inner, bwd_of=gi))
            elif gname == "AddBackward0":
                nodes.append(ev(gname, [], pre=2000, post=1600, bwd_of=gi, frees=1))
            else:   # view / transpose / clone / t: metadata-only backward nodes
                if gname in ("ViewBackward0", "UnsafeViewBackward0"):
                    inner = [o("aten::reshape", [o("aten::view", pre=700, post=500)], pre=1100, post=700)]
                elif gname in ("TransposeBackward0", "TBackward0"):
                    inner = [o("aten::transpose", [o("aten::as_strided", pre=500, post=400)], pre=1100, post=700)]
                nodes.append(ev(gname, inner, pre=2000, post=1500, bwd_of=gi, frees=0))
            for _ in range(nparams):
                if pi < len(params):
                    nodes += accumulate(*params[pi])
                    pi += 1
        while pi < len(params):
            nodes += accumulate(*params[pi])
            pi += 1
        if bucket_elems:
            nodes += self.allreduce(bucket_elems, tid)
        return nodes

    def allreduce(self, nelems, tid):
        m = self.m
        ranks = "[%s]" % ", ".join(str(r) for r in range(self.world))
        coll = ('"Collective name": "allreduce", "In msg nelems": %d, "Out msg nelems": %d, "Group size": %d, '
                '"dtype": "BFloat16", "In split size": "[]", "Out split size": "[]", "Process Group Name": "0", '
                '"Process Group Description": "default_pg", "Process Group Ranks": "%s"' % (nelems, nelems, self.world, ranks))
        comm_us = 18.0 + nelems * 2 * 2.0 * (self.world - 1) / max(self.world, 1) / 180e9 * 1e6
        kern = ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", [24, 1, 1], [640, 1, 1],
                96, 103808, 0.181818, 3.636364, 0)
        n = Node(COMM, 900, 700)
        ln = self.launch(kern, comm_us, rt="cudaLaunchKernelExC", cbid=430, rt_us=11.0, stream=NCCL_STREAM,
                         extra_args=", " + coll + ', "Seq": %d')
        n.launch = ln.launch
        rpc_args = ('"Collective name": "allreduce", "dtype": "BFloat16", "In msg nelems": %d, "Out msg nelems": %d, '
                    '"In split size": "[]", "Out split size": "[]", "Global rank start": 0, "Global rank stride": 1, '
                    '"Group size": %d, "Process Group Name": "0", "Process Group Description": "default_pg", '
                    '"Process Group Ranks": "%s", "Rank": %d, ' % (nelems, nelems, self.world, ranks, self.rank))
        rpc = self.op("record_param_comms", [
            self.runtime_only("cudaStreamIsCapturing", 317, 1.2, kind=WAITEV),
            self.runtime_only("cudaEventRecord", 135, 2.3, kind=WAITEV),
            self.runtime_only("cudaStreamWaitEvent", 147, 1.6, kind=WAITEV),
            self.op("nccl:all_reduce", [n, self.runtime_only("cudaEventRecord", 135, 0.8, kind=WAITEV)],
                    pre=4000, post=3000, cat="user_annotation", tid=tid, gpu_ua=True,
                    args=shape_args([T([nelems])])),
        ], pre=3000, post=2500, tid=tid, args=rpc_args + shape_args([T([[nelems]], "TensorList"), N(), N(), S(0), N(), S("[]", "ScalarList"), S("[]", "ScalarList"), S(0), S(1), S(self.world)]))
        c10d = self.op("c10d::allreduce_", [rpc], pre=6000, post=5000, tid=tid,
                       args=shape_args([T([[nelems]], "TensorList"), N(), N(), N(), S("True"), S(-1)]))
        mul = self.op("torch::distributed::reducer::mul_out", [
            self.op("aten::mul", [self.launch(K_ADD, self.mem_us(nelems * 6), rt_us=5.0)], pre=3000, post=2000, tid=tid,
                    args=shape_args([T([nelems]), S(1.0 / max(self.world, 1))]))
        ], pre=2500, post=1500, tid=tid)
        return [mul, c10d]

    # ------------------------------------------------------------------ optimizer & step
    def optimizer(self):
        m = self.m
        nparams = len(self.params)
        total = sum(n for _, n in self.params)
        dims = "[%s]" % ", ".join("[%d]" % n for _, n in self.params[:4])
        ops = [("aten::_foreach_add_", "UnaryOpScalarFunctor<float, 1, 1, 0>", 1, 6),
               ("aten::_foreach_lerp_", "TernaryOpScalarFunctor<c10::BFloat16, 2, 2, 0>", 2, 8),
               ("aten::_foreach_mul_", "BinaryOpScalarFunctor<c10::BFloat16, 1, 1, 0>", 1, 4),
               ("aten::_foreach_addcmul_", "PointwiseOpScalarFunctor<c10::BFloat16, 3, 3, 0>", 3, 10),
               ("aten::_foreach_sqrt", "UnaryOpFunctor<c10::BFloat16, 2, 1, 1>", 2, 6),
               ("aten::_foreach_div_", "BinaryOpScalarFunctor<c10::BFloat16, 1, 1, 0>", 1, 4),
               ("aten::_foreach_add_", "BinaryOpScalarFunctor<c10::BFloat16, 1, 1, 0>", 1, 4),
               ("aten::_foreach_addcdiv_", "PointwiseOpScalarFunctor<c10::BFloat16, 4, 4, 0>", 4, 12)]
        chunks = max(1, total // 65536)
        launches = max(1, min(40, chunks // 320))
        ch = []
        for name, functor, depth, bpe in ops:
            if name == "aten::_foreach_add_" and functor.startswith("Unary"):
                ks = [self.launch(foreach_kernel(functor, depth), 4.0, rt_us=6.0) for _ in range(max(1, nparams // 110 + 1))]
                alloc = 0
            else:
                us = self.mem_us(total * bpe) / launches
                ks = [self.launch(foreach_kernel(functor, depth), us, rt_us=6.0) for _ in range(launches)]
                alloc = total * 2 if name == "aten::_foreach_sqrt" else 0
            ch.append(self.op(name, ks, pre=9000, post=6000, alloc=alloc,
                              args='"Input type": ["TensorList", "Scalar"], "Input Dims": [%s, []], ' % dims))
        adam = self.py("torch/optim/adamw.py(458): _multi_tensor_adamw", ch, call_from="torch/optim/adamw.py:1031", pre=20000, post=8000)
        init = []
        for _ in range(nparams):
            init += [self.leaf("<built-in method is_complex of type object at 0x7f3b1d6a2f40>", "torch/optim/adamw.py:153", 0.4),
                     self.leaf("<built-in method append of list object at 0x7f3a0c41e280>", "torch/optim/adamw.py:154", 0.3),
                     self.leaf("<built-in method append of list object at 0x7f3a0c41e280>", "torch/optim/adamw.py:159", 0.3),
                     self.leaf("torch/_tensor.py(1229): __hash__", "torch/optim/adamw.py:161", 0.9),
                     self.leaf("<built-in method append of list object at 0x7f3a0c41e280>", "torch/optim/adamw.py:192", 0.3)]
        init_group = self.py("torch/optim/adamw.py(128): _init_group", init, call_from="torch/optim/adamw.py:252", pre=3000, post=2000)
        step = self.ua("Optimizer.step#AdamW.step", [
            self.py("torch/optim/optimizer.py(485): wrapper", [
                self.py("torch/optim/optimizer.py(79): _use_grad", [
                    self.py("torch/optim/adamw.py(210): step", [
                        init_group,
                        self.py("torch/optim/adamw.py(980): adamw", [adam], call_from="torch/optim/adamw.py:271")
                    ], pre=20000, post=5000, call_from="torch/optim/optimizer.py:91")
                ], call_from="torch/optim/optimizer.py:497")
            ], call_from="train.py:92")
        ], gpu_ua=True)
        zero = self.ua("Optimizer.zero_grad#AdamW.zero_grad", [
            self.py("torch/optim/optimizer.py(955): zero_grad", [], call_from="train.py:93", pre=60000, post=30000)
        ])
        ch = [self.runtime_only("cudaStreamWaitEvent", 147, 2.0, kind=WAITEV), step, zero]
        if self.a.phases:
            return [self.ua("optimizer", ch, gpu_ua=True)]
        return ch

    def dataloader(self):
        m = self.m
        h2d = []
        for nm in ("input_ids", "labels"):
            h2d.append(self.py("<built-in method to of Tensor object at 0x7f3a0c3e1d00>", [
                self.op("aten::to", [self.op("aten::_to_copy", [
                    self.op("aten::empty_strided", pre=900, post=600, args=shape_args([S("[%d, %d]" % (m.B, m.T), "ScalarList"), S("[%d, 1]" % m.T, "ScalarList"), S(4), S(0), S("cuda:%d" % self.device, "Device"), S("False")])),
                    self.op("aten::copy_", [self.launch(None, 3.0, rt="cudaMemcpyAsync", cbid=41, rt_us=9.0, kind="memcpy",
                                                        nbytes=m.BT * 8, memcpy_name="Memcpy HtoD (Pinned -> Device)")],
                            pre=3000, post=2000, args=shape_args([T([m.B, m.T], "long int"), T([m.B, m.T], "long int"), S("True")])),
                ], pre=2500, post=1500, alloc=m.BT * 8, args=shape_args([T([m.B, m.T], "long int"), N(), N(), S("cuda:%d" % self.device, "Device"), N(), S("True"), N()]))],
                    pre=2000, post=1200, args=shape_args([T([m.B, m.T], "long int"), S("cuda:%d" % self.device, "Device"), S(4), S("True"), S("False"), N()]))
            ], call_from="train.py:85", pre=800, post=600))
        it = self.ua("enumerate(DataLoader)#_MultiProcessingDataLoaderIter.__next__", [
            self.py("torch/utils/data/dataloader.py(733): __next__", [
                self.py("torch/utils/data/dataloader.py(1480): _next_data", [
                    self.py("torch/utils/data/dataloader.py(1442): _get_data", [
                        self.py("torch/utils/data/dataloader.py(1296): _try_get_data", [
                            self.py("multiprocessing/queues.py(98): get", [], call_from="torch/utils/data/dataloader.py:1309", pre=40000, post=25000)
                        ], call_from="torch/utils/data/dataloader.py:1456")
                    ], call_from="torch/utils/data/dataloader.py:1486"),
                    self.py("torch/utils/data/dataloader.py(1524): _process_data", [], call_from="torch/utils/data/dataloader.py:1510", pre=9000, post=6000),
                ], call_from="torch/utils/data/dataloader.py:740")
            ], call_from="train.py:84")
        ])
        if self.a.phases:
            return [self.ua("dataloader", [it] + h2d)]
        return [it] + h2d

    def _build_step(self):
        m = self.m
        self.building_forward = True
        fwd = self.forward()
        self.building_forward = False
        bwd_thread = self.backward_nodes()
        bnode = Node(AUTOGRAD, 30000, 25000, bwd_thread)
        bwd = self.py("torch/_tensor.py(626): backward", [
            self.py("torch/autograd/__init__.py(354): backward", [
                self.py("torch/autograd/graph.py(829): _engine_run_backward", [
                    self.py("<built-in method run_backward of torch._C._EngineBase object at 0x7f3b0a5e8c40>", [bnode],
                            call_from="torch/autograd/graph.py:841", pre=3000, post=2000)
                ], call_from="torch/autograd/__init__.py:361")
            ], call_from="torch/_tensor.py:647")
        ], call_from="train.py:90")
        bwd_ch = [self.ua("backward", [bwd], gpu_ua=True)] if self.a.phases else [bwd]
        sync = self.op("aten::_local_scalar_dense", [
            self.launch(None, 2.0, rt="cudaMemcpyAsync", cbid=41, rt_us=12.0, kind="memcpy", nbytes=4,
                        memcpy_name="Memcpy DtoH (Device -> Pinned)"),
        ], pre=3000, post=2000, args=shape_args([T([], "float")]))
        s = Node(SYNC, 800, 600)
        s.launch = Launch(self.x_head("cuda_runtime", "cudaStreamSynchronize", self.pid, "%d") +
                          '"External id": %d, "cbid": 131, "correlation": %d\n    }\n  },\n', None, 0, 4000, "runtime")
        sync.children.append(s)
        item = self.py("<built-in method item of Tensor object at 0x7f3a0c3e1da0>", [
            self.op("aten::item", [sync], pre=2000, post=1200, args=shape_args([T([], "float")]))
        ], call_from="train.py:95", pre=900, post=700)
        body = self.dataloader() + fwd + bwd_ch + self.optimizer() + [item]
        train_step = self.py("train.py(80): train_step", body, call_from="train.py:140", pre=15000, post=9000)
        root = self.ua("ProfilerStep#%d", [train_step], pre=2000, post=1500)
        return root

    # ------------------------------------------------------------------ instantiation
    def reset(self, n_steps, counts):
        """counts: (cpu events per step, memory events per step, python events per step)."""
        self.n_steps = n_steps
        self.ext = 1
        self.corr = 1
        self.seqnr = 100
        self.flow_id = 1
        self.py_id = 10
        c_cpu, c_mem, c_py = counts
        self.ev_cpu = 0
        self.ev_mem = n_steps * c_cpu
        self.ev_py = n_steps * (c_cpu + c_mem)
        self.cnt_cpu = self.cnt_mem = self.cnt_py = 0
        self.nccl_seq = 0
        self.rng = random.Random(self.a.seed * 1000003 + self.rank)
        self.alloc_total = 9 * 1024 ** 3 + 123 * 1024 * 512
        self.reserved = 12 * 1024 ** 3
        self.addr_next = 0x7f2a40000000
        self.free_addrs = []
        self.acts = []
        self.streams = {COMPUTE_STREAM: 0, NCCL_STREAM: 0}

    def step_factor(self, q, step):
        f = 1.0 + random.Random(self.a.seed * 7777 + q * 131 + step * 1000003).gauss(0.0, self.a.jitter)
        if q == self.slow_rank and self.world > 1:
            f *= self.a.slow_factor
        if 0 <= step - self.a.first_step < self.a.warmup_steps:
            f *= self.a.warmup_factor
        return f

    def gen_step(self, step, t_start, cpu, mem, py, gpu, common_dur):
        """Generate one ProfilerStep at t_start; returns its natural end time (ns)."""
        self.cpu, self.mem, self.py_out, self.gpu = cpu, mem, py, gpu
        self.scale = self.step_factor(self.rank, step)
        if self.world > 1:
            self.smax = max(self.step_factor(q, step) for q in range(self.world))
        else:
            self.smax = self.scale
        self.step_gpu_start = max(self.streams[COMPUTE_STREAM], t_start)
        for k in self.streams:
            self.streams[k] = max(self.streams[k], t_start)
        self.ext_stack = [0]
        self.gua_frames = []
        self.fwd_flows = {}
        self.pad_to = t_start + common_dur if common_dur else 0
        self.step_no = step
        self.root_fmt = self.template.fmt.replace("ProfilerStep#%%d", "ProfilerStep#%d" % step, 1)
        self.cur_tid = self.main_tid
        end = self.run(self.template, t_start, 0)
        return end

    def alloc(self, nbytes, t, tid):
        if self.free_addrs:
            addr = self.free_addrs.pop()
        else:
            addr = self.addr_next
            self.addr_next += 0x4000000
        self.alloc_total += nbytes
        while self.alloc_total > self.reserved - 256 * 1024 * 1024:
            self.reserved += 2 * 1024 ** 3
        self.mem.append(self.MEM_FMT % (tid, t // 1000, t % 1000, self.reserved, self.alloc_total, nbytes, addr, self.ev_mem))
        self.ev_mem += 1
        self.cnt_mem += 1
        return addr

    def free(self, addr, nbytes, t, tid):
        self.alloc_total -= nbytes
        self.mem.append(self.MEM_FMT % (tid, t // 1000, t % 1000, self.reserved, self.alloc_total, -nbytes, addr, self.ev_mem))
        self.ev_mem += 1
        self.cnt_mem += 1
        self.free_addrs.append(addr)

    def run(self, node, t, py_parent):
        """Emit node starting at t (ns); returns its end time."""
        rnd = self.rng.random
        k = node.kind
        if k == OP:
            start = t
            outer_mult = self.slow_mult
            if node.slow:
                self.slow_mult = self.a.op_factor
            sc = self.scale * self.slow_mult
            ext = self.ext
            self.ext += 1
            cpu = self.cpu
            idx = len(cpu)
            cpu.append(None)
            evidx = self.ev_cpu
            self.ev_cpu += 1
            self.cnt_cpu += 1
            tid = node.tid
            t += int(node.pre * sc * (0.7 + 0.6 * rnd())) + 1
            seq = 0
            if node.seq:
                if node.grad is not None:
                    seq = self.seqnr
                    self.seqnr += 1
                    fid = self.flow_id
                    self.flow_id += 1
                    self.fwd_flows[node.grad] = (seq, fid)
                    cpu.append(self.S_FMT % (fid, tid, start // 1000, start % 1000, "fwdbwd", "fwdbwd"))
                elif node.bwd_of is not None:
                    seq, fid = self.fwd_flows.get(node.bwd_of, (0, 0))
                    if fid and node.flow_f:     # the inner XBackward0 op gets the flow end
                        cpu.append(self.F_CPU_FMT % (fid, tid, start // 1000, start % 1000))
            addr = 0
            if node.alloc:
                addr = self.alloc(node.alloc, t, tid)
                t += 400
                if node.keep:
                    self.acts.append((addr, node.alloc))
                    addr = 0
            if node.gpu_ua:
                frame = [node.ua_fmt, ext, None, 0, 0]
                self.gua_frames.append(frame)
            self.ext_stack.append(ext)
            for c in node.children:
                t = self.run(c, t, py_parent)
            self.ext_stack.pop()
            if node.gpu_ua:
                self.gua_frames.pop()
                if frame[2] is not None:
                    g0, g1 = frame[3] - 1, frame[4] + 1
                    self.gpu.append(self.GUA_FMT % (frame[0], frame[2], g0 // 1000, g0 % 1000, (g1 - g0) // 1000, (g1 - g0) % 1000, ext))
            if addr:
                t += 300
                self.free(addr, node.alloc, t, tid)
            if node.frees and self.acts:
                for _ in range(node.frees):
                    if self.acts:
                        a_addr, a_bytes = self.acts.pop()
                        t += 300
                        self.free(a_addr, a_bytes, t, tid)
            t += int(node.post * sc * (0.7 + 0.6 * rnd())) + 1
            self.slow_mult = outer_mult
            if self.pad_to and node is self.template:
                t = max(t, self.pad_to)
            dur = t - start
            fmt = self.root_fmt if node is self.template else node.fmt
            if node.seq:
                cpu[idx] = fmt % (start // 1000, start % 1000, dur // 1000, dur % 1000, ext, seq, evidx)
            else:
                cpu[idx] = fmt % (start // 1000, start % 1000, dur // 1000, dur % 1000, ext, evidx)
            return t
        if k == PY:
            start = t
            pid_ = self.py_id
            self.py_id += 1
            py = self.py_out
            idx = len(py)
            py.append(None)
            evidx = self.ev_py
            self.ev_py += 1
            self.cnt_py += 1
            sc = self.scale * self.slow_mult
            t += int(node.pre * sc * (0.7 + 0.6 * rnd())) + 1
            for c in node.children:
                t = self.run(c, t, pid_)
            t += int(node.post * sc * (0.7 + 0.6 * rnd())) + 1
            dur = t - start
            py[idx] = node.fmt % (start // 1000, start % 1000, dur // 1000, dur % 1000, py_parent, pid_, evidx)
            return t
        if k == LAUNCH or k == COMM:
            ln = node.launch
            sm = self.slow_mult
            t += int(node.pre * sm * (0.7 + 0.6 * rnd())) + 1
            corr = self.corr
            self.corr += 1
            ext = self.ext_stack[-1]
            rt_dur = int(ln.rt_dur * sm * (0.75 + 0.5 * rnd())) + 1
            tid = self.cur_tid
            gpu = self.gpu
            gpu.append(ln.rt_fmt % (tid, t // 1000, t % 1000, rt_dur // 1000, rt_dur % 1000, ext, corr))
            gpu.append(self.S_FMT % (corr, tid, t // 1000, t % 1000, "ac2g", "ac2g"))
            stream = ln.stream
            ready = t + rt_dur + 2500 + int(1500 * rnd())
            # back-to-back kernels on a stream are ~1-3 us apart
            free_at = self.streams[stream] + 1000 + int(2000 * rnd())
            if k == COMM:
                # the collective waits (cudaStreamWaitEvent) for the gradients of its
                # bucket, produced on the compute stream
                ready = max(ready, self.streams[COMPUTE_STREAM] + 1500)
                g0 = max(ready, free_at)
                # straggler model: every rank leaves the collective when the slowest
                # rank of this step has produced the same bucket (+ the transfer time)
                sync = self.step_gpu_start + int((ready - self.step_gpu_start) * (self.smax / self.scale))
                gd = max(g0, sync) - g0 + int(ln.gpu_dur * sm * (0.9 + 0.2 * rnd()))
                self.nccl_seq += 1
                gpu.append(ln.gpu_fmt % (g0 // 1000, g0 % 1000, gd // 1000, gd % 1000, ext, corr, self.nccl_seq))
            else:
                g0 = max(ready, free_at)
                gd = int(ln.gpu_dur * self.scale * sm * (0.92 + 0.16 * rnd())) + 1
                if ln.kind == "kernel":
                    gpu.append(ln.gpu_fmt % (g0 // 1000, g0 % 1000, gd // 1000, gd % 1000, ext, corr))
                else:
                    gpu.append(ln.gpu_fmt % (g0 // 1000, g0 % 1000, gd // 1000, gd % 1000, ext, corr, repr(ln.bytes / gd)))
            gpu.append(self.F_GPU_FMT % (corr, stream, g0 // 1000, g0 % 1000))
            g1 = g0 + gd
            self.streams[stream] = g1
            for fr in self.gua_frames:
                if fr[2] is None:
                    fr[2] = stream
                    fr[3] = g0
                    fr[4] = g1
                elif fr[2] == stream:
                    if g1 > fr[4]:
                        fr[4] = g1
            t += rt_dur
            t += int(node.post * sm * (0.7 + 0.6 * rnd())) + 1
            return t
        if k == WAITEV:
            ln = node.launch
            sm = self.slow_mult
            t += int(node.pre * sm * (0.7 + 0.6 * rnd())) + 1
            corr = self.corr
            self.corr += 1
            rt_dur = int(ln.rt_dur * sm * (0.75 + 0.5 * rnd())) + 1
            self.gpu.append(ln.rt_fmt % (self.cur_tid, t // 1000, t % 1000, rt_dur // 1000, rt_dur % 1000, self.ext_stack[-1], corr))
            if self.cur_tid == self.main_tid and '"cudaStreamWaitEvent"' in ln.rt_fmt:
                # optimizer: the compute stream waits for the gradient all-reduces
                self.streams[COMPUTE_STREAM] = max(self.streams[COMPUTE_STREAM], self.streams[NCCL_STREAM])
            t += rt_dur + int(node.post * sm * (0.7 + 0.6 * rnd())) + 1
            return t
        if k == SYNC:
            ln = node.launch
            t += int(node.pre * (0.7 + 0.6 * rnd())) + 1
            corr = self.corr
            self.corr += 1
            done = max(self.streams.values())
            end = max(t + 3000, done + 2000 + int(2000 * rnd()))
            rt_dur = end - t
            self.gpu.append(ln.rt_fmt % (self.cur_tid, t // 1000, t % 1000, rt_dur // 1000, rt_dur % 1000, self.ext_stack[-1], corr))
            return end + int(node.post * (0.7 + 0.6 * rnd())) + 1
        if k == AUTOGRAD:
            t += int(node.pre * (0.7 + 0.6 * rnd())) + 1
            ta = t
            saved = self.cur_tid
            self.cur_tid = self.ag_tid
            for c in node.children:
                ta = self.run(c, ta, 0)
            # the engine frees whatever activations are left
            while self.acts:
                a_addr, a_bytes = self.acts.pop()
                ta += 300
                self.free(a_addr, a_bytes, ta, self.ag_tid)
            self.cur_tid = saved
            return ta + int(node.post * (0.7 + 0.6 * rnd())) + 1
        raise AssertionError(k)


# ---------------------------------------------------------------------------
# File assembly
# ---------------------------------------------------------------------------

DEVICE_PROPS = ('\n      {\n      "id": %d, "name": "NVIDIA H100 80GB HBM3", "totalGlobalMem": 85045641216,\n'
                '      "computeMajor": 9, "computeMinor": 0,\n      "maxThreadsPerBlock": 1024, "maxThreadsPerMultiprocessor": 2048,\n'
                '      "regsPerBlock": 65536, "warpSize": 32,\n      "sharedMemPerBlock": 49152, "numSms": 132\n'
                '    , "regsPerMultiprocessor": 65536, "sharedMemPerBlockOptin": 232448, "sharedMemPerMultiprocessor": 233472\n      }')


def header(rt, seed):
    world = rt.world
    ranks = ", ".join(str(r) for r in range(world))
    trace_id = "%032X" % random.Random(seed * 31 + rt.rank).getrandbits(128)
    props = ",".join(DEVICE_PROPS % i for i in range(8))
    dist = ('{"backend": "nccl", "rank": %d, "world_size": %d, "pg_count": 1, "pg_config": [{"pg_name": "0", '
            '"pg_desc": "default_pg", "backend_config": "cuda:nccl", "pg_size": %d, "ranks": [%s]}], "nccl_version": "2.27.5"}'
            % (rt.rank, world, world, ranks))
    return (' {\n    "schemaVersion": 1,\n    "deviceProperties": [%s\n    ],\n    \n'
            '      "trace_id": "%s",\n      "cupti_version": 26,\n      "cuda_runtime_version": 12080,\n'
            '      "cuda_driver_version": 12080,\n      "with_stack": 1,\n      "profile_memory": 1,\n      "record_shapes": 1,\n'
            '      "distributedInfo": %s,\n      "host_name": "gpu-node-%03d",\n'
            '    "displayTimeUnit": "ms",\n    "baseTimeNanoseconds": %d,\n    "traceEvents": [\n    \n'
            % (props, trace_id, dist, rt.rank // 8, BASE_TIME_NS))


def metadata_events(rt, t):
    ts = "%d.%03d" % (t // 1000, t % 1000)

    def m(name, pid, tid, key, val):
        v = '"%s"' % val if isinstance(val, str) else str(val)
        return ('  {\n    "ph": "M",\n    "name": "%s",\n    "ts": %s,\n    "pid": %s,\n    "tid": %s,\n    "args": {\n'
                '      "%s": %s\n    }\n  },\n' % (name, ts, pid, tid, key, v))
    out = [m("process_name", rt.pid, 0, "name", "python3"), m("process_labels", rt.pid, 0, "labels", "CPU"),
           m("process_sort_index", rt.pid, 0, "sort_index", rt.pid)]
    dev = rt.device
    out += [m("process_name", dev, 0, "name", "python3"), m("process_labels", dev, 0, "labels", "GPU %d" % dev),
            m("process_sort_index", dev, 0, "sort_index", 5000000 + dev)]
    for s in (COMPUTE_STREAM, NCCL_STREAM):
        out += [m("thread_name", dev, s, "name", "stream %d " % s), m("thread_sort_index", dev, s, "sort_index", s)]
    for tid, nm in ((rt.main_tid, "python3"), (rt.ag_tid, "python3"), (rt.main_tid, "python3"), (rt.ag_tid, "pt_autograd_0")):
        out += [m("thread_name", rt.pid, tid, "name", "thread %d (%s)" % (tid, nm)),
                m("thread_sort_index", rt.pid, tid, "sort_index", tid)]
    return "".join(out)


def trace_wide_python(rt, t0, t1):
    """<module> / main / train frames around all steps (written last in the python section)."""
    out = []
    frames = [("train.py(180): <module>", "", 1, None), ("train.py(160): main", "train.py:180", 2, 1),
              ("train.py(135): train", "train.py:170", 3, 2)]
    for i, (name, cf, pid_, parent) in enumerate(frames):
        s, e = t0 - 30000 + i * 1000, t1 + 30000 - i * 1000
        d = e - s
        par = '"Python parent id": %d, ' % parent if parent else ""
        cfs = '"CallFrom": "%s", ' % cf if cf else ""
        out.append('  {\n    "ph": "X",\n    "cat": "python_function",\n    "name": "%s",\n    "pid": %d,\n    "tid": %d,\n'
                   '    "ts": %d.%03d,\n    "dur": %d.%03d\n    ,\n    "args": {\n      %s%s"Python id": %d, "Ev Idx": %d\n    }\n  },\n'
                   % (name, rt.pid, rt.main_tid, s // 1000, s % 1000, d // 1000, d % 1000, cfs, par, pid_, rt.ev_py))
        rt.ev_py += 1
    return "".join(out)


def tail(t0, t1, trace_name):
    s = t0 - 40000
    e = t1 + 40000
    d = e - s
    return ('  {\n    "ph": "X",\n    "cat": "Trace",\n    "name": "PyTorch Profiler (0)",\n    "pid": "Spans",\n'
            '    "tid": "PyTorch Profiler",\n    "ts": %d.%03d,\n    "dur": %d.%03d\n    ,\n    "args": {\n      "Op count": 0\n    }\n  },\n'
            '  {\n    "ph": "M",\n    "name": "process_sort_index",\n    "ts": %d.%03d,\n    "pid": "Spans",\n    "tid": 0,\n'
            '    "args": {\n      "sort_index": 536870912\n    }\n  },\n'
            '  {\n    "ph": "i",\n    \n    "s": "g",\n    "name": "Iteration Start: PyTorch Profiler",\n    "pid": "Traces",\n'
            '    "tid": "Trace PyTorch Profiler",\n    "ts": %d.%03d\n    \n  },\n'
            '  {\n    "ph": "i",\n    \n    "s": "g",\n    "name": "Record Window End",\n    "pid": "",\n    "tid": "",\n'
            '    "ts": %d.%03d\n    \n  }\n  ],"traceName": "%s" }\n'
            % (s // 1000, s % 1000, d // 1000, d % 1000, s // 1000, s % 1000, s // 1000, s % 1000,
               e // 1000, e % 1000, trace_name))


def calibrate(a, world):
    """Dry-run one step (rank 0 model, no jitter) to learn bytes, counts and duration per step.
    The dry run always uses seed 0: the duration sets every step's length, so runs that differ
    only in --seed differ by per-step noise, not by a run-wide offset."""
    saved = a.slow_factor, a.jitter, a.warmup_steps, a.seed
    a.slow_factor, a.jitter, a.warmup_steps, a.seed = 1.0, 0.0, 0, 0
    try:
        rt = RankTrace(a, 0, world)
        if getattr(a, "slow_op", None) and not rt.slow_matches:
            sys.exit("gen_kineto: --slow-op %r matches no operator" % a.slow_op)
        rt.reset(1, (0, 0, 0))
        cpu, mem, py, gpu = [], [], [], []
        t0 = T0_NS
        end = rt.gen_step(0, t0, cpu, mem, py, gpu, 0)
    finally:
        a.slow_factor, a.jitter, a.warmup_steps, a.seed = saved
    nbytes = sum(len(s) for s in cpu) + sum(len(s) for s in mem) + sum(len(s) for s in py) + sum(len(s) for s in gpu)
    return nbytes, (rt.cnt_cpu, rt.cnt_mem, rt.cnt_py), end - t0, len(cpu) + len(mem) + len(py) + len(gpu)


class Sink:
    """Buffered writer: collects strings and flushes big chunks."""
    __slots__ = ("f", "buf", "n", "total")

    def __init__(self, f):
        self.f, self.buf, self.n, self.total = f, [], 0, 0

    def write_list(self, lst):
        s = "".join(lst)
        self.f.write(s)
        self.total += len(s)


def write_rank(a, rank, world, out_path, n_steps, counts, base_dur, trace_name=None):
    rt = RankTrace(a, rank, world)
    rt.reset(n_steps, counts)
    gz = out_path.endswith(".gz")
    d = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(d, exist_ok=True)
    tmps = [tempfile.TemporaryFile(mode="w+", dir=d, buffering=1 << 22) for _ in range(3)]
    if gz:
        raw = open(out_path, "wb")
        out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=a.gzip_level, mtime=0)
        outw = io.TextIOWrapper(out, encoding="utf-8", write_through=False)
    else:
        outw = open(out_path, "w", buffering=1 << 22)
    outw.write(header(rt, a.seed))
    cpu_sink = Sink(outw)
    sinks = [Sink(f) for f in tmps]
    t = T0_NS + rt.clock_skew
    t_first = t
    gap = 180000   # idle time between steps (ns)
    anchor = T0_NS
    for i in range(n_steps):
        step = a.first_step + i
        smax = max(rt.step_factor(q, step) for q in range(world)) if world > 1 else rt.step_factor(rank, step)
        common = int(base_dur * smax * 1.03) + 150000
        start = max(t, anchor + rt.clock_skew)
        cpu, mem, py, gpu = [], [], [], []
        end = rt.gen_step(step, start, cpu, mem, py, gpu, common)
        cpu_sink.write_list(cpu)
        sinks[0].write_list(mem)
        sinks[1].write_list(py)
        sinks[2].write_list(gpu)
        anchor += common + gap
        t = end + gap
    t_last = t - gap
    sinks[1].f.write(trace_wide_python(rt, t_first, t_last))
    for f in tmps:
        f.flush()
        f.seek(0)
        while True:
            chunk = f.read(1 << 24)
            if not chunk:
                break
            outw.write(chunk)
        f.close()
    outw.write(metadata_events(rt, t_first - 50000))
    outw.write(tail(t_first, t_last, trace_name or out_path))
    outw.close()
    if gz:
        out.close()
        raw.close()
    return rt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=20.0, help="target size of each (uncompressed) trace in MB (1e6 bytes)")
    ap.add_argument("--out", help="output file (.json, or .json.gz with --gzip)")
    ap.add_argument("--gzip", action="store_true", help="gzip the output (appends .gz to --out if missing)")
    ap.add_argument("--gzip-level", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rank", type=int, default=0)
    ap.add_argument("--world-size", type=int, default=8)
    ap.add_argument("--ranks-dir", help="write DIR/rank{r}.pt.trace.json[.gz] for every rank of --world-size")
    ap.add_argument("--slow-rank", type=int, default=None, help="the straggler rank (default: world_size-1)")
    ap.add_argument("--slow-factor", type=float, default=1.25,
                    help="compute slowdown of the slow rank, or of the --slow-op operators when given")
    ap.add_argument("--slow-op", metavar="REGEX",
                    help="operators (cpu_op / user_annotation names, re.search) that take --slow-factor longer, "
                         "with their child ops, runtime calls and GPU kernels; no straggler rank then")
    ap.add_argument("--warmup-steps", type=int, default=0, help="the first N steps are --warmup-factor slower")
    ap.add_argument("--warmup-factor", type=float, default=3.0, help="slowdown of the --warmup-steps steps")
    ap.add_argument("--jitter", type=float, default=0.01, help="per-rank, per-step compute jitter (stddev)")
    ap.add_argument("--first-step", type=int, default=5, help="number of the first ProfilerStep")
    ap.add_argument("--steps", type=int, default=None, help="number of steps (overrides --size-mb)")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--d-model", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=50304)
    ap.add_argument("--no-phase-annotations", dest="phases", action="store_false",
                    help="omit the dataloader/forward/backward/optimizer record_function ranges")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()

    if not a.out and not a.ranks_dir:
        ap.error("--out FILE or --ranks-dir DIR is required")
    world = a.world_size
    if not (0 <= a.rank < world):
        ap.error("--rank must be in [0, world_size)")
    if a.slow_factor <= 0 or a.warmup_factor <= 0 or a.warmup_steps < 0:
        ap.error("--slow-factor and --warmup-factor must be > 0, --warmup-steps >= 0")
    a.op_factor = 1.0
    if a.slow_op:
        try:
            re.compile(a.slow_op)
        except re.error as e:
            ap.error("--slow-op: %s" % e)
        a.op_factor, a.slow_factor = a.slow_factor, 1.0

    t_start = time.perf_counter()
    nbytes, counts, base_dur, nev = calibrate(a, world)
    n_steps = a.steps or max(1, int(round(a.size_mb * 1e6 / nbytes)))
    if not a.quiet:
        print("gen_kineto: %d events / %.2f MB / %.1f ms per step; %d step(s) per trace"
              % (nev, nbytes / 1e6, base_dur / 1e6, n_steps), file=sys.stderr)
    if a.ranks_dir:
        targets = [(r, os.path.join(a.ranks_dir, "rank%d.pt.trace.json%s" % (r, ".gz" if a.gzip else "")))
                   for r in range(world)]
    else:
        out = a.out
        if a.gzip and not out.endswith(".gz"):
            out += ".gz"
        targets = [(a.rank, out)]
    total = 0
    for r, path in targets:
        t0 = time.perf_counter()
        write_rank(a, r, world, path, n_steps, counts, base_dur, trace_name=os.path.basename(path).replace(".gz", ""))
        sz = os.path.getsize(path)
        total += sz
        dt = time.perf_counter() - t0
        print("wrote %s (%.1f MB, rank %d/%d, %d steps) in %.2f s" % (path, sz / 1e6, r, world, n_steps, dt))
    if not a.quiet:
        dt = time.perf_counter() - t_start
        print("gen_kineto: %.1f MB on disk in %.2f s" % (total / 1e6, dt), file=sys.stderr)


if __name__ == "__main__":
    main()
