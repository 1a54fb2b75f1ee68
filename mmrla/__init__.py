from ._startup import (quiet_torchscript_notice, register_models_on_import,
                       route_checkpoint_loading)
from .version import __version__

quiet_torchscript_notice()
# Every checkpoint that mmengine's loaders read in this process (load_from,
# --resume, init_cfg Pretrained, get_model, inferencers) loads weights-only.
# First: it imports mmrla.engine, which the rest of mmrla imports from.
route_checkpoint_loading()
# mmpretrain.list_models('*rla*') and mmpretrain.get_model(name) know
# mmrla's classifiers once mmrla is imported (costs importing mmpretrain,
# which mmrla.models imports anyway).
register_models_on_import()

__all__ = ['__version__']
