"""mmrla's models by name: its model index in mmpretrain's model hub.

``model-index.yml`` (the repository root of a source checkout or an editable
install, ``mmrla/.mim/`` of an installed wheel) imports the metafiles of the
config families (``configs/*/metafile.yml``), which list the RLA classifiers
and the COCO detectors. :func:`register_models` (run by
``import mmrla``) adds the classifiers to mmpretrain's ``ModelHub``, so that
``mmpretrain.list_models('*rla*')`` lists them and
``mmpretrain.get_model(name, pretrained=PATH)`` builds them. mmdet's
``DetInferencer`` reads model names only from the metafiles of the packages
mmengine knows (``mmengine.config.utils.MODULE2PACKAGE``), so detectors are
named through :func:`model_config_path`.
"""
import os.path as osp
from typing import List, Optional

CLASSIFICATION = 'Image Classification'
_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def model_index_root() -> str:
    """The folder that holds ``model-index.yml`` and ``configs/``.

    As mmengine's inferencers look for a package's configs: the source tree
    (a checkout on ``PYTHONPATH`` or an editable install) first, then
    ``mmrla/.mim`` (a wheel, where ``setup.py`` copies them).

    Raises:
        FileNotFoundError: If neither holds them.
    """
    for root in (osp.dirname(_PACKAGE), osp.join(_PACKAGE, '.mim')):
        if osp.isfile(osp.join(root, 'model-index.yml')) and \
                osp.isdir(osp.join(root, 'configs')):
            return root
    raise FileNotFoundError(
        f'mmrla\'s model-index.yml and configs/ are neither next to '
        f'{_PACKAGE} nor in {osp.join(_PACKAGE, ".mim")}; install mmrla '
        'from its repository (pip install -e . or pip install .).')


def load_models(task: Optional[str] = None) -> list:
    """The models of mmrla's model index, with absolute config paths.

    Args:
        task (str, optional): Keep only the models with a result of this
            task, e.g. ``'Image Classification'`` or ``'Object
            Detection'``. Defaults to all.

    Returns:
        list[modelindex.models.Model.Model]: In metafile order.
    """
    from modelindex.load_model_index import load
    root = model_index_root()
    index = load(osp.join(root, 'model-index.yml'))
    index.build_models_with_collections()
    models = []
    for model in index.models:
        if task is not None and \
                task not in [r.task for r in model.results or []]:
            continue
        model.config = osp.join(root, model.config)
        models.append(model)
    return models


def model_config_path(name: str) -> str:
    """The config file of a model of mmrla's metafiles, by name.

    Detectors are named this way, e.g. for mmdet's inferencer::

        DetInferencer(model=model_config_path(
            'faster-rcnn_rla-resnet50_fpn_1x_coco'), weights='det.pth')

    Args:
        name (str): A ``Name`` of a metafile (any case).

    Raises:
        ValueError: For an unknown name, listing the known ones.

    Example:
        >>> osp.basename(model_config_path('rla-resnet50_4xb64_in1k'))
        'r50rla_4xb64_in1k.py'
    """
    models = load_models()
    for model in models:
        if model.name.lower() == name.lower():
            return model.config
    raise ValueError(f'mmrla has no model named "{name}"; its models: '
                     f'{", ".join(m.name for m in models)}.')


def register_models() -> List[str]:
    """Register mmrla's classifiers with mmpretrain's model hub.

    Afterwards ``mmpretrain.list_models('*rla*')`` lists them and
    ``mmpretrain.get_model(name)`` builds them (random weights, or
    ``pretrained=PATH`` with a converted checkpoint; mmrla hosts no weights,
    so ``pretrained=True`` finds none). It registers the metafiles of the
    classifiers through mmpretrain's ``ModelHub.register_model_index``;
    the detectors' metafile is left out, as mmpretrain cannot build them.
    Running it again changes nothing.

    Returns:
        list[str]: The registered names.

    Raises:
        ValueError: If another package registered some of these names.

    Example:
        >>> import mmpretrain
        >>> 'rla-resnet50_4xb64_in1k' in register_models()
        True
        >>> 'rla-resnet50_4xb64_in1k' in mmpretrain.list_models('rla-*')
        True
    """
    from mmpretrain.apis import ModelHub
    metafiles = {}  # metafile -> the lower-case names of its models
    for model in load_models(CLASSIFICATION):
        metafiles.setdefault(model.filepath, []).append(model.name.lower())
    for metafile, names in metafiles.items():
        known = [name for name in names if ModelHub.has(name)]
        if not known:
            ModelHub.register_model_index(
                metafile, config_prefix=model_index_root())
        elif known != names:  # ours are registered all at once
            raise ValueError(f'The model names {", ".join(known)} of '
                             f'{metafile} are already registered by another '
                             'package.')
    return [name for names in metafiles.values() for name in names]
