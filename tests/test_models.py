import pytest
import torch

from utils.models import FastResNet, count_parameters, whitening_filters


@pytest.mark.parametrize("widths", [(8, 16, 32), (16, 32, 64, 128)])
def test_fast_resnet_output_is_the_scaled_classifier_of_globally_max_pooled_features(widths):
    torch.manual_seed(0)
    model = FastResNet(widths).eval()
    x = torch.randn(2, 3, 32, 32)
    features = model.features(model.whiten(x))  # (2, widths[-1], H, W)
    expected = model.classifier(features.flatten(2).max(dim=2).values) / 9  # the default logit scale, 1/9
    out = model(x)
    assert out.shape == (2, 10)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("widths", [(), (8, 0, 16), (8, 2.5), (8, True)])
def test_fast_resnet_rejects_bad_widths(widths):
    with pytest.raises(ValueError, match="widths"):
        FastResNet(widths)


def test_fast_resnet_rejects_a_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        FastResNet((8, 16), depth=0)


def test_fast_resnet_conv_weights_are_scale_invariant():
    torch.manual_seed(0)
    model = FastResNet((8, 16, 32)).double()  # training mode: batch norm uses the batch statistics
    x = torch.randn(16, 3, 32, 32, dtype=torch.float64)
    before = model(x)
    with torch.no_grad():
        model.features[1].weight.mul_(7.0)  # a conv followed by pooling and batch norm
    torch.testing.assert_close(model(x), before)


def test_whitening_layer_and_batch_norm_scales_are_frozen():
    model = FastResNet((8, 16))
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert "whiten.weight" in frozen and all(n == "whiten.weight" or n.endswith(".weight") for n in frozen)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(not m.weight.requires_grad and m.bias.requires_grad for m in norms)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_batch_norm_running_statistics_move_40_percent_toward_each_batch():
    """airbench's momentum 0.4 (PyTorch's default is 0.1), and eps 1e-12."""
    torch.manual_seed(0)
    model = FastResNet((8, 16))
    norm = model.features[3]  # after the first conv and pooling
    seen = []
    norm.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    model(torch.randn(6, 3, 32, 32))
    batch = seen[0]
    torch.testing.assert_close(norm.running_mean, 0.4 * batch.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(norm.running_var, 0.6 + 0.4 * batch.var(dim=(0, 2, 3)))
    assert all(m.eps == 1e-12 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_convolutions_start_as_identities_on_their_first_channels():
    model = FastResNet((8, 16))
    residual_conv = model.features[5].body[0]  # 8 -> 8 channels
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(residual_conv(x), x)
    widening = model.features[6]  # 8 -> 16: the first 8 filters copy the input, the others are random
    torch.testing.assert_close(widening(x)[:, :8], x)
    assert not torch.allclose(widening(x)[:, 8:], torch.zeros(()))


def test_whitening_filters_decorrelate_patches_to_unit_variance():
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(12, 12, generator=g, dtype=torch.float64)
    patches = torch.randn(20000, 12, generator=g, dtype=torch.float64) @ mixing  # correlated patches
    images = patches.reshape(-1, 2, 2, 3).permute(0, 3, 1, 2)  # 2x2 images: one patch each
    filters = whitening_filters(images, eps=0.0).double()
    assert filters.shape == (24, 3, 2, 2)
    torch.testing.assert_close(filters[12:], -filters[:12])  # both signs of each direction
    out = torch.nn.functional.conv2d(images, filters[:12]).flatten(1)
    torch.testing.assert_close(out.T @ out / len(out), torch.eye(12, dtype=torch.float64), atol=1e-6, rtol=0)
    norms = filters[:12].flatten(1).norm(dim=1)  # largest eigenvalue first: it needs the smallest filter
    assert torch.all(norms[1:] >= norms[:-1])


def test_whitening_filters_reject_bad_input():
    with pytest.raises(ValueError, match="N, C, H, W"):
        whitening_filters(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="patches"):
        whitening_filters(torch.zeros(1, 3, 2, 3))  # 2 patches for a 12-dimensional covariance


def test_whiten_from_sets_the_first_layer():
    model = FastResNet((8, 16))
    images = torch.randn(64, 3, 32, 32)
    model.whiten_from(images)
    torch.testing.assert_close(model.whiten.weight, whitening_filters(images))


def test_whitening_bias_starts_at_zero():
    """A random start would shift the whitened patches before the bias has learned anything."""
    torch.manual_seed(0)
    assert torch.count_nonzero(FastResNet((8, 8, 8)).whiten.bias) == 0


def test_without_residual_each_group_is_airbenchs_conv_pool_norm_gelu_conv_norm_gelu():
    torch.manual_seed(0)
    model = FastResNet((8, 16), residual=False).double()
    conv1, pool, norm1, gelu, block = list(model.features)[1:6]
    conv2, norm2 = block.body[0], block.body[1]
    x = torch.randn(4, 24, 9, 9, dtype=torch.float64)
    expected = gelu(norm2(conv2(gelu(norm1(pool(conv1(x)))))))
    torch.testing.assert_close(model.features[1:6](x), expected)
    with_skip = FastResNet((8, 16), residual=True).double()
    with_skip.load_state_dict(model.state_dict())  # the same parameters: only the forward pass differs
    h = gelu(norm1(pool(conv1(x))))
    torch.testing.assert_close(with_skip.features[1:6](x), h + expected)
    assert count_parameters(with_skip) == count_parameters(model)
