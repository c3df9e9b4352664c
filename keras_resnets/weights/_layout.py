"""What the checkpoint loaders share: which model they hold, and comparing
its settings with a layout.

The weights sit below the models: `ResNet(weights=...)` and
`ResNeXt(weights=...)` call `load_weights` from their constructors. So the
loaders never import a model class; they name it (`is_instance`) and read
the model's settings as attributes.
"""

import keras


def is_instance(model, *class_names):
    """`isinstance(model, (keras_resnets.ResNet, ...))` for the given class
    names, decided on the Keras registered names (`keras_resnets>ResNet`) of
    the classes `type(model)` derives from. Those names are stable: saved
    `.keras` files depend on them."""
    wanted = {f"keras_resnets>{name}" for name in class_names}
    return any(keras.saving.get_registered_name(cls) in wanted for cls in type(model).__mro__)


def settings_mismatches(model, expected):
    """`["key=got (needs value)", ...]` for each setting of `model` (an
    attribute; tuples compared as lists) that differs from `expected`."""
    errors = []
    for key, value in expected.items():
        got = getattr(model, key, None)
        if isinstance(got, tuple):
            got = list(got)
        if got != value:
            errors.append(f"{key}={got!r} (needs {value!r})")
    return errors
