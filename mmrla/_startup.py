"""What ``import mmrla`` does besides defining the package: it registers
mmrla's own things with the libraries it extends, and replaces nothing of
theirs."""
import sys
import warnings


def quiet_torchscript_notice() -> None:
    """Import ``torch.distributed.optim`` without its TorchScript notice.

    mmpretrain and mmengine import it (for mmengine's
    ZeroRedundancyOptimizer wrapper), and on torch <= 2.5 its import prints
    "`TorchScript` support for functional optimizers is deprecated" under
    ``warnings.simplefilter('always')``, which no warning filter can hide.
    Importing it first while recording warnings keeps that one notice out
    of every tool's output; any other warning of the import is re-issued,
    and no warning filter changes. Nothing happens when it is already
    imported.
    """
    if 'torch.distributed.optim' in sys.modules:
        return
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


def register_checkpoint_types() -> None:
    """Add the types that checkpoints of mmengine's runner hold to torch's
    weights-only allowlist
    (:func:`mmrla.engine.safe_load.register_checkpoint_globals`)."""
    from .engine.safe_load import register_checkpoint_globals
    register_checkpoint_globals()
