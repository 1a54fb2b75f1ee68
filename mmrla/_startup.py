"""What ``import mmrla`` does besides defining the package."""
import warnings


def quiet_torchscript_notice() -> None:
    """Import ``torch.distributed.optim`` without its TorchScript notice.

    mmengine imports it (for its ZeroRedundancyOptimizer wrapper), and on
    import it prints "`TorchScript` support for functional optimizers is
    deprecated" under ``warnings.simplefilter('always')``, which no warning
    filter can hide; mmrla never uses those optimizers. Importing it first
    while recording warnings keeps that one notice out of every tool's
    output; any other warning of the import is re-issued.
    """
    with warnings.catch_warnings(record=True) as caught:
        try:
            import torch.distributed.optim  # noqa: F401
        except ImportError:  # torch built without distributed support
            return
    for w in caught:
        if 'TorchScript' in str(w.message) and \
                'functional optimizers' in str(w.message):
            continue
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def register_models_on_import() -> None:
    """Register mmrla's classifiers with mmpretrain's model hub (see
    :func:`mmrla.apis.register_models`); an install without its model index
    only warns, so that the package still imports."""
    from .apis import register_models
    try:
        register_models()
    except FileNotFoundError as e:
        warnings.warn(f'mmrla\'s models are not registered by name: {e}')


def route_checkpoint_loading() -> None:
    """Make mmengine's checkpoint loaders load weights-only in this process
    (:func:`mmrla.engine.safe_load.route_mmengine_loaders`; docs/weights.md,
    "Safe loading")."""
    from .engine.safe_load import route_mmengine_loaders
    route_mmengine_loaders()
