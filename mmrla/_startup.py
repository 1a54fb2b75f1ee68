"""What ``import mmrla`` does besides defining the package: it registers
mmrla's own things with the libraries it extends, and replaces nothing of
theirs."""
import warnings


def register_models_on_import() -> None:
    """Register mmrla's classifiers with mmpretrain's model hub (see
    :func:`mmrla.apis.register_models`); an install without its model index
    only warns, so that the package still imports."""
    from .apis import register_models
    try:
        register_models()
    except FileNotFoundError as e:
        warnings.warn(f'mmrla\'s models are not registered by name: {e}')


def register_checkpoint_types() -> None:
    """Add the types that checkpoints of mmengine's runner hold to torch's
    weights-only allowlist
    (:func:`mmrla.engine.safe_load.register_checkpoint_globals`)."""
    from .engine.safe_load import register_checkpoint_globals
    register_checkpoint_globals()
