import pytest

from utils.presets import PRESET_ENV_VAR, PRESET_NAMES, choose_preset, per_preset


@pytest.mark.parametrize(
    ("environ", "cuda", "expected"),
    [
        ({}, True, "gpu"),
        ({}, False, "cpu"),
        ({"CI": "true"}, False, "smoke"),
        ({"CI": "false"}, False, "cpu"),
        ({"CI": "true", PRESET_ENV_VAR: "cpu"}, False, "cpu"),
        ({PRESET_ENV_VAR: " GPU "}, False, "gpu"),
    ],
)
def test_automatic_choice(environ, cuda, expected):
    assert choose_preset(environ=environ, cuda_available=cuda) == expected


def test_argument_wins_over_environment():
    assert choose_preset("smoke", environ={PRESET_ENV_VAR: "gpu"}, cuda_available=True) == "smoke"


def test_the_three_presets_and_every_table_of_sizes_covers_them():
    from utils.cifar_train import CIFAR_PRESETS
    from utils.dropout_study import CIFAR_MLP_PRESETS

    assert PRESET_NAMES == ("smoke", "cpu", "gpu")
    assert set(CIFAR_PRESETS) == set(CIFAR_MLP_PRESETS) == set(PRESET_NAMES)
    assert [choose_preset(name, environ={}) for name in PRESET_NAMES] == ["smoke", "cpu", "gpu"]


def test_unknown_argument_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown preset 'fast'.*from name"):
        choose_preset("fast", environ={})


def test_unknown_environment_value_names_the_variable():
    with pytest.raises(ValueError, match=r"\$BOOK_PRESET"):
        choose_preset(environ={PRESET_ENV_VAR: "huge"})


def test_per_preset_orders_the_table_and_names_what_is_missing_or_unknown():
    assert list(per_preset(gpu=3, smoke=1, cpu=2).items()) == [("smoke", 1), ("cpu", 2), ("gpu", 3)]
    with pytest.raises(ValueError, match=r"missing \['gpu'\], unknown \['tpu'\]"):
        per_preset(smoke=1, cpu=2, tpu=3)
