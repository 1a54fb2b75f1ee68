from ._startup import quiet_torchscript_notice, register_models_on_import
from .version import __version__

quiet_torchscript_notice()
# mmpretrain.list_models('*rla*') and mmpretrain.get_model(name) know
# mmrla's classifiers once mmrla is imported (costs importing mmpretrain,
# which mmrla.models imports anyway).
register_models_on_import()

__all__ = ['__version__']
