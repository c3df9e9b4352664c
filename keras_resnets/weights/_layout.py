"""What the checkpoint loaders share: comparing a model's settings with a layout."""


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
