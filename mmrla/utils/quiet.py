"""A quiet start for the command-line tools."""
import warnings


def quiet_torchscript_notice() -> None:
    """Import ``torch.distributed.optim`` without its TorchScript notice.

    mmengine imports it (for its ZeroRedundancyOptimizer wrapper), and on
    import it prints "`TorchScript` support for functional optimizers is
    deprecated" under ``warnings.simplefilter('always')``, which no warning
    filter can hide; the tools never use those optimizers. Importing it
    first while recording warnings keeps that one notice out of the tools'
    output; any other warning of the import is re-issued. Importing this
    module (the tools' package does) runs it; ``import mmrla`` does not.
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


quiet_torchscript_notice()
