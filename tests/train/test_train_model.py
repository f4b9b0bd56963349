"""The model, its parameter and FLOP accounting, the schedules, the config and the hardware."""

from __future__ import annotations

import itertools
import math
import platform
import resource

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from fixtures import published as F
from scalinglab.accounting import ModelShape, count_params, flops_per_token
from scalinglab.errors import ParameterError
from scalinglab.train import GPT, TrainConfig, gpu_peak_flops, kaplan_lr, lr_at, resolve_threads
from scalinglab.train.hardware import cpu_peak_flops, resolve_device, retained_heap

SHAPES = [
    dict(n_layer=2, d_model=64, n_head=4),
    dict(n_layer=1, d_model=48, n_head=3, positions="rotary", tied=False),
    dict(n_layer=3, d_model=32, n_head=4, n_kv_head=2, bias=False, norm="rmsnorm",
         mlp="swiglu"),
    dict(n_layer=2, d_model=32, n_head=2, bias=False, d_ff=40),
    dict(n_layer=1, d_model=16, n_head=1, positions="none", mlp="swiglu", d_ff=24),
]


@pytest.mark.parametrize("kw", SHAPES)
def test_param_count_matches_accounting(kw: dict) -> None:
    shape = ModelShape(vocab=300, context=48, **kw)
    model = GPT(shape)
    counts = count_params(shape)
    assert counts.total == sum(p.numel() for p in model.parameters())
    embedding = model.tok.weight.numel()
    embedding += model.pos.weight.numel() if model.pos is not None else 0
    embedding += model.head.weight.numel() if model.head is not None else 0
    assert counts.embedding == embedding
    assert counts.nonembedding == counts.total - embedding
    x = torch.randint(0, 300, (2, 48))
    assert model(x).shape == (2, 48, 300)


@pytest.mark.parametrize(("n_layer", "d", "heads", "T", "V"),
                         [(2, 64, 4, 64, 256), (2, 128, 4, 256, 256), (4, 64, 4, 32, 1000)])
def test_flops_match_flop_counter(n_layer: int, d: int, heads: int, T: int, V: int) -> None:
    """FlopCounterMode on a real forward+backward counts only matmuls: 6 x (matrix weights,
    the tied head included) + attention 12 L T d (QK^T and AV over the full T x T, the math
    SDPA kernel, which the counter sees; the flash kernel on CPU is not counted at all).
    So it equals the PaLM/nanoGPT MFU count up to the biases and norm gains (which PaLM's N
    includes but do no matmul work): within 2% at these widths. 6N (total parameters) has no
    attention term and counts the free position lookup, so it is off by up to 20-30%."""
    shape = ModelShape(n_layer=n_layer, d_model=d, n_head=heads, vocab=V, context=T)
    model = GPT(shape)
    B = 2
    x = torch.randint(0, V, (B, T + 1))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model.loss(x[:, :-1], x[:, 1:]).backward()
    measured = counter.get_total_flops() / (B * T)
    matrices = n_layer * 12 * d * d + V * d
    assert measured == 6 * matrices + 12 * n_layer * T * d
    palm = flops_per_token(shape, "palm")
    assert abs(measured / palm - 1) < 0.02
    attention = 12 * n_layer * T * d
    assert abs((measured - attention) / flops_per_token(shape, "6N-head") - 1) < 0.02
    ratio_6n = measured / flops_per_token(shape, "6N")
    assert 1.0 < ratio_6n < 1.3


def test_attention_is_causal() -> None:
    torch.manual_seed(0)
    model = GPT(ModelShape(n_layer=2, d_model=32, n_head=4, vocab=50, context=16,
                           positions="rotary"))
    x = torch.randint(0, 50, (1, 16))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 50
    assert torch.allclose(model(x)[0, :10], model(y)[0, :10], atol=1e-6)
    assert not torch.allclose(model(x)[0, 10:], model(y)[0, 10:])


def test_initial_loss_near_uniform() -> None:
    torch.manual_seed(0)
    model = GPT(ModelShape(n_layer=2, d_model=64, n_head=4, vocab=256, context=32))
    x = torch.randint(0, 256, (8, 33))
    assert abs(model.loss(x[:, :-1], x[:, 1:]).item() - math.log(256)) < 0.1


def test_schedules() -> None:
    kw = dict(peak=1.0, steps=100, warmup=10)
    cos = [lr_at(s, schedule="cosine", **kw) for s in range(100)]
    assert cos[0] == pytest.approx(0.1) and cos[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(cos[9:]))
    assert cos[-1] == pytest.approx(0.0, abs=1e-12)
    assert lr_at(99, schedule="cosine", min_lr_ratio=0.1, **kw) == pytest.approx(0.1)
    wsd = [lr_at(s, schedule="wsd", decay_fraction=0.2, **kw) for s in range(100)]
    assert wsd[10:80] == [1.0] * 70
    assert wsd[80] < 1.0 and wsd[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in itertools.pairwise(wsd[80:]))
    assert lr_at(50, schedule="constant", **kw) == 1.0
    assert kaplan_lr(100_000) == pytest.approx(0.003239 - 0.0001395 * math.log(1e5))


def test_config_errors_name_the_parameter() -> None:
    """Library errors name the Python field (the CLI maps it onto the flag)."""
    base = dict(n_layer=2, d_model=64, n_head=4, context=32, batch_size=4, tokens=1000)
    with pytest.raises(ParameterError, match=r"^argument d_model: .*not divisible"):
        TrainConfig(**{**base, "d_model": 60, "n_head": 8})
    with pytest.raises(ParameterError, match=r"^argument n_kv_head: "):
        TrainConfig(**{**base, "n_kv_head": 3})
    with pytest.raises(ParameterError, match=r"^argument positions: "):
        TrainConfig(**{**base, "d_model": 12, "n_head": 4, "positions": "rotary"})
    with pytest.raises(ParameterError, match=r"^argument flops_convention: "):
        TrainConfig(**{**base, "flops_convention": "7N"})
    for bad in ("tpu", "cuda:", "cuda:x", "cuda:-1", "CPU"):
        with pytest.raises(ParameterError, match=r"^argument device: unknown device"):
            TrainConfig(**{**base, "device": bad})
    for good in ("cpu", "cuda", "cuda:0", "cuda:12", "mps", "auto"):
        assert TrainConfig(**{**base, "device": good}).device == good
    with pytest.raises(ValueError, match="Extra inputs"):
        TrainConfig(**{**base, "n_layers": 3})
    cfg = TrainConfig(**base)
    assert cfg.steps == math.ceil(1000 / 128) and cfg.tokens_per_step == 128


def test_threads_and_cpu_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_threads(3) == 3
    monkeypatch.setenv("SCALINGLAB_CONCURRENT_RUNS", "1000")
    assert resolve_threads(None) == 1
    monkeypatch.delenv("SCALINGLAB_CONCURRENT_RUNS")
    assert resolve_threads(None) >= 1
    assert 1e9 < cpu_peak_flops(1) < 1e12


def _faults_per_realloc(n_bytes: int, repeats: int = 4) -> float:
    """Minor page faults per allocate-touch-free cycle of an ``n_bytes`` tensor, after 20 cycles
    of warm-up (aligned allocations creep through a growing heap for a few cycles)."""
    for _ in range(20):
        torch.ones(n_bytes // 4)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        torch.ones(n_bytes // 4)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / repeats


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc settings")
def test_retained_heap_reuses_freed_buffers() -> None:
    size = 128 * 2 ** 20  # above glibc's largest dynamic mmap threshold (32 MiB): always mmapped
    pages = size / resource.getpagesize()
    assert _faults_per_realloc(size) > 0.5 * pages  # default glibc: fresh pages every time
    with retained_heap():
        with retained_heap():  # nested (another run in another thread): still retained after
            pass
        assert _faults_per_realloc(size) < 0.01 * pages  # the freed block is reused


def test_gpu_peak_table() -> None:
    bf16 = F.GPU_PEAK_BF16_DENSE
    assert gpu_peak_flops("NVIDIA H100 80GB HBM3", "bf16") == bf16["h100-sxm"]
    assert gpu_peak_flops("NVIDIA H100 80GB HBM3", "fp32") == F.GPU_PEAK_TF32_DENSE["h100-sxm"]
    assert gpu_peak_flops("NVIDIA H100 PCIe", "bf16") == bf16["h100-pcie"]
    assert gpu_peak_flops("NVIDIA H200", "bf16") == bf16["h100-sxm"]
    assert gpu_peak_flops("NVIDIA A100-SXM4-80GB", "bf16") == bf16["a100"]
    assert gpu_peak_flops("NVIDIA GeForce GTX 1080", "bf16") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_requested_without_gpu() -> None:
    with pytest.raises(ParameterError, match=r"^argument device: "):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_forward_backward() -> None:
    from scalinglab.train.evaluate import autocast

    dev = torch.device("cuda")
    model = GPT(ModelShape(n_layer=2, d_model=64, n_head=4, vocab=256, context=64)).to(dev)
    x = torch.randint(0, 256, (4, 65), device=dev)
    with autocast(dev, "bf16"):
        logits = model(x[:, :-1])
        loss = model.loss(x[:, :-1], x[:, 1:])
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32
               for p in model.parameters())
