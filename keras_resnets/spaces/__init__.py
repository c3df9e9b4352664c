"""The search spaces of the model families, below training and tuning.

Each family module in `keras_resnets/models/` declares its `SEARCH_SPACE`
beside its registered names; `families` reads those declarations through
the registry (`get_family`, `resolve_space`, `model_section`, ...) and
`hyperparameters` holds one searchable setting (`Hyperparameter`) and how a
user's `search_space` narrows it. Neither imports keras or keras-tuner, so
`training.config` checks a config's `tuner:` section with them, and
`keras_resnets.tuning` searches over them.
"""
