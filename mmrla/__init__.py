from ._startup import (quiet_torchscript_notice, register_checkpoint_types,
                       register_models_on_import)
from .version import __version__

# First: mmpretrain, imported below, imports torch.distributed.optim.
quiet_torchscript_notice()

# torch's weights-only loading (its default from torch 2.6 on) reads the
# checkpoints of mmengine's runner once their few types are allowed.
register_checkpoint_types()
# mmpretrain.list_models('*rla*') and mmpretrain.get_model(name) know
# mmrla's classifiers once mmrla is imported (costs importing mmpretrain,
# which mmrla.models imports anyway).
register_models_on_import()

__all__ = ['__version__']
