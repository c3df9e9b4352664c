"""Learning-rate schedules: values at known iterations, serialization."""

import keras
import numpy as np
import pytest

from keras_resnets.training import schedules
from keras_resnets.training.config import ScheduleConfig


def values(schedule, steps):
    return [float(keras.ops.convert_to_numpy(schedule(s))) for s in steps]


def test_multistep_wrn():
    # Zagoruyko 2016: 0.1 x 0.2 at epochs 60, 120, 160 (391 steps per epoch).
    s = schedules.from_config(
        ScheduleConfig(name="step", milestones=(60, 120, 160), gamma=0.2),
        0.1, steps_per_epoch=391, epochs=200,
    )
    got = values(s, [0, 60 * 391 - 1, 60 * 391, 120 * 391, 160 * 391, 199 * 391])
    np.testing.assert_allclose(got, [0.1, 0.1, 0.02, 0.004, 0.0008, 0.0008], rtol=1e-5)


def test_resnet110_constant_warmup():
    s = schedules.from_config(
        ScheduleConfig(name="step", milestone_steps=(32000, 48000), warmup_steps=400,
                       warmup_learning_rate=0.01, warmup_mode="constant"),
        0.1, steps_per_epoch=352, epochs=182,
    )
    got = values(s, [0, 399, 400, 31999, 32000, 48000, 63999])
    np.testing.assert_allclose(got, [0.01, 0.01, 0.1, 0.1, 0.01, 0.001, 0.001], rtol=1e-5)


def test_cosine_with_linear_warmup():
    s = schedules.from_config(
        ScheduleConfig(name="cosine", warmup_epochs=2), 0.2, steps_per_epoch=10, epochs=12
    )
    got = values(s, [0, 10, 20, 70, 120])
    np.testing.assert_allclose(got, [0.0, 0.1, 0.2, 0.1, 0.0], atol=1e-6)


def test_onecycle():
    s = schedules.OneCycle(0.2, 100, pct_start=0.25, div_factor=10, final_div_factor=100)
    got = values(s, [0, 25, 100])
    np.testing.assert_allclose(got, [0.02, 0.2, 0.0002], rtol=1e-4)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.MultiStepDecay(0.1, [10, 20], gamma=0.2),
        schedules.CosineAnnealing(0.2, 100, min_learning_rate=0.01, start_step=5),
        schedules.OneCycle(0.2, 100),
        schedules.Warmup(schedules.CosineAnnealing(0.2, 100), 10, 0.01),
    ],
    ids=lambda s: type(s).__name__,
)
def test_serialization_round_trip(schedule):
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(again) is type(schedule)
    np.testing.assert_allclose(values(again, [0, 7, 50]), values(schedule, [0, 7, 50]), rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineAnnealing(0.1, 0)
    with pytest.raises(ValueError, match="mode"):
        schedules.Warmup(0.1, 10, mode="cubic")
