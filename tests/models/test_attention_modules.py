"""BAM and CBAM against a direct re-computation of their formulas from the modules' weights."""

import pytest
import torch
import torch.nn.functional as F

from models import BAM, CBAM
from models.cbam import GATE_FLOOR


def bn_eval(x, bn):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return (x - bn.running_mean.view(shape)) / torch.sqrt(bn.running_var.view(shape) + bn.eps) \
        * bn.weight.view(shape) + bn.bias.view(shape)


def randomize_bn(module):
    """Non-trivial running statistics, so eval-mode BatchNorm is really exercised."""
    for m in module.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def bam_by_hand(bam: BAM, x: torch.Tensor, fusion: str) -> torch.Tensor:
    g = bam.channel_att.gate_c
    pooled = x.sum(dim=(2, 3)) / (x.shape[2] * x.shape[3])
    hidden = F.relu(bn_eval(F.linear(pooled, g.gate_c_fc_0.weight, g.gate_c_fc_0.bias), g.gate_c_bn_1))
    mc = F.linear(hidden, g.gate_c_fc_final.weight, g.gate_c_fc_final.bias)[:, :, None, None]

    s = bam.spatial_att.gate_s
    y = F.relu(bn_eval(F.conv2d(x, s.gate_s_conv_reduce0.weight, s.gate_s_conv_reduce0.bias), s.gate_s_bn_reduce0))
    for i in range(2):
        conv = getattr(s, f"gate_s_conv_di_{i}")
        y = F.relu(bn_eval(F.conv2d(y, conv.weight, conv.bias, padding=4, dilation=4), getattr(s, f"gate_s_bn_di_{i}")))
    ms = F.conv2d(y, s.gate_s_conv_final.weight, s.gate_s_conv_final.bias)

    m = torch.sigmoid(mc * ms) if fusion == "product" else torch.sigmoid(mc + ms)
    return x + x * m


@pytest.mark.parametrize("fusion", ["product", "sum"])
@pytest.mark.parametrize("shape", [(2, 64, 16, 16), (1, 64, 12, 29)], ids=["square", "non-square"])
def test_bam_matches_its_formula(fusion, shape):
    bam = BAM(64, fusion=fusion)
    randomize_bn(bam)
    bam.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.allclose(bam(x), bam_by_hand(bam, x, fusion), atol=1e-5)


def test_bam_fusions_differ():
    product, summed = BAM(32, fusion="product"), BAM(32, fusion="sum")
    summed.load_state_dict(product.state_dict())
    x = torch.randn(1, 32, 10, 14)
    with torch.no_grad():
        assert not torch.allclose(product.eval()(x), summed.eval()(x))


def test_bam_rejects_unknown_fusion():
    with pytest.raises(ValueError, match="product"):
        BAM(32, fusion="mean")


def test_bam_pools_over_the_whole_map():
    """A wide map whose right half differs: the authors' square pooling would ignore it."""
    bam = BAM(32).eval()
    left = torch.randn(1, 32, 8, 8)
    a, b = torch.cat([left, torch.zeros_like(left)], 3), torch.cat([left, torch.ones_like(left) * 5], 3)
    with torch.no_grad():
        assert not torch.allclose(bam.channel_att(a), bam.channel_att(b))


def test_bam_maps_are_observable_by_hooks_without_changing_the_output():
    bam = BAM(64).eval()
    x = torch.randn(1, 64, 10, 18)
    with torch.no_grad():
        plain = bam(x)
    seen = {}
    handles = [getattr(bam, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
               for name in ("channel_att", "spatial_att", "gate")]
    with torch.no_grad():
        hooked = bam(x)
    for h in handles:
        h.remove()
    assert torch.equal(plain, hooked)
    assert seen["channel_att"].shape == (1, 64, 1, 1)
    assert seen["spatial_att"].shape == (1, 1, 10, 18)
    assert seen["gate"].shape == (1, 64, 10, 18)
    assert torch.allclose(hooked, x * (1 + seen["gate"]))


def test_bam_eval_with_batch_size_one():
    bam = BAM(32).eval()
    out = bam(torch.randn(1, 32, 7, 9))
    assert out.shape == (1, 32, 7, 9) and torch.isfinite(out).all()


def test_bam_trains_with_batches_of_one_and_more():
    bam = BAM(32).train()
    before = bam.channel_att.gate_c.gate_c_bn_1.running_mean.clone()
    bam(torch.randn(4, 32, 7, 9)).sum().backward()
    assert not torch.equal(before, bam.channel_att.gate_c.gate_c_bn_1.running_mean)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in bam.parameters())
    # One sample: BatchNorm1d cannot use batch statistics; BAM falls back to the running ones.
    out = bam(torch.randn(1, 32, 7, 9))
    out.sum().backward()
    assert torch.isfinite(out).all()


def cbam_by_hand(cbam: CBAM, x: torch.Tensor) -> torch.Tensor:
    fc1, _, fc2 = cbam.channel_gate.mlp
    mlp = lambda v: F.linear(F.relu(F.linear(v, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)  # noqa: E731
    avg = x.sum(dim=(2, 3)) / (x.shape[2] * x.shape[3])
    peak = x.flatten(2).max(dim=2).values
    x1 = x * torch.sigmoid(mlp(avg) + mlp(peak))[:, :, None, None]
    stacked = torch.stack([x1.max(dim=1).values, x1.mean(dim=1)], dim=1)
    sg = cbam.spatial_gate
    ms = bn_eval(F.conv2d(stacked, sg.conv.weight, padding=3), sg.bn)
    return x1 * torch.sigmoid(ms)


@pytest.mark.parametrize("shape", [(2, 64, 16, 16), (1, 64, 9, 23)], ids=["square", "non-square"])
def test_cbam_matches_its_formula(shape):
    cbam = CBAM(64)
    randomize_bn(cbam)
    cbam.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.allclose(cbam(x), cbam_by_hand(cbam, x), atol=1e-5)


def test_cbam_cuts_underflowing_gates_without_changing_its_output():
    # Large inputs saturate the random gates: by its formula CBAM then outputs values near 1e-38,
    # whose products downstream are slow subnormal floats (issue 14: R-50 + CBAM ran 1.4x R-50).
    torch.manual_seed(0)
    cbam = CBAM(64).eval()
    x = torch.randn(1, 64, 16, 16) * 300
    with torch.no_grad():
        by_formula, out = cbam_by_hand(cbam, x), cbam(x)
    tiny = lambda t: ((t != 0) & (t.abs() < 1e-30)).sum().item()  # noqa: E731
    assert tiny(by_formula) > 0 and tiny(out) == 0
    # Each cut value was under one rounding step (epsilon) of the ungated input.
    torch.testing.assert_close(out, by_formula, rtol=0, atol=GATE_FLOOR * x.abs().max().item())


def test_cbam_trains_and_exposes_its_maps():
    cbam = CBAM(32).train()
    seen = {}
    cbam.channel_gate.sigmoid.register_forward_hook(lambda m, i, o: seen.__setitem__("c", o))
    cbam.spatial_gate.sigmoid.register_forward_hook(lambda m, i, o: seen.__setitem__("s", o))
    cbam(torch.randn(2, 32, 6, 11)).sum().backward()
    assert seen["c"].shape == (2, 32, 1, 1) and seen["s"].shape == (2, 1, 6, 11)
    assert all(p.grad is not None for p in cbam.parameters())
