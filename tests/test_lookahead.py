import pytest
import torch

from utils.lookahead import PEAK_DECAY, Lookahead, lookahead_decay


def test_decay_grows_as_a_cube_to_its_peak():
    assert lookahead_decay(1, 1000) == pytest.approx(PEAK_DECAY * 1e-9)
    assert lookahead_decay(500, 1000) == pytest.approx(PEAK_DECAY / 8)
    assert lookahead_decay(1000, 1000) == pytest.approx(0.95**5)


@pytest.mark.parametrize(("step", "total"), [(0, 10), (11, 10), (1, 0), (1.5, 10)])
def test_decay_rejects_steps_outside_the_run(step, total):
    with pytest.raises(ValueError):
        lookahead_decay(step, total)


def test_update_pulls_the_model_to_the_average_and_copies_it_back():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    lookahead = Lookahead(model)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    lookahead.update(model, decay=0.75)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p, start[name] + 0.25)  # 0.75 * old + 0.25 * (old + 1)
        torch.testing.assert_close(lookahead.slow[name], p)
    assert model[1].num_batches_tracked.dtype == torch.long and "1.num_batches_tracked" not in lookahead.slow


def test_state_round_trip_and_bad_decay():
    model = torch.nn.Linear(3, 1)
    lookahead = Lookahead(model)
    other = Lookahead(torch.nn.Linear(3, 1))
    other.load_state_dict(lookahead.state_dict())
    for name in lookahead.slow:
        torch.testing.assert_close(other.slow[name], lookahead.slow[name])
    with pytest.raises(ValueError, match="decay"):
        lookahead.update(model, decay=1.5)
