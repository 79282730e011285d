import pytest
import torch

from utils.models import FastResNet


@pytest.mark.parametrize("widths", [(8, 16, 32), (16, 32, 64, 128)])
def test_fast_resnet_output_shape(widths):
    model = FastResNet(widths)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("widths", [(), (8, 0, 16), (8, 2.5)])
def test_fast_resnet_rejects_bad_widths(widths):
    with pytest.raises(ValueError, match="widths"):
        FastResNet(widths)


def test_fast_resnet_conv_weights_are_scale_invariant():
    torch.manual_seed(0)
    model = FastResNet((8, 16, 32))  # training mode: batch norm uses the batch statistics
    x = torch.randn(16, 3, 32, 32)
    before = model(x)
    with torch.no_grad():
        model.features[3].weight.mul_(7.0)  # a conv followed by pooling and batch norm
    torch.testing.assert_close(model(x), before, rtol=1e-4, atol=1e-4)
