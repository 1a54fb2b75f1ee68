import os

# The authors' released ImageNet checkpoint behind each converted file name
# that the configs use.
RELEASED_CHECKPOINTS = {
    'rla_resnet50_in1k.pth': 'resnet50_rla_2283.pth.tar',
    'rla_ecaresnet50_in1k.pth': 'ecanet50_rla_2215.pth.tar',
    'rla_resnet101_in1k.pth': 'resnet101_rla_2148.pth.tar',
    'rla_ecaresnet101_in1k.pth': 'ecanet101_rla_2100.pth.tar',
    'rla_mobilenetv2_in1k.pth': 'dsrla_mobilenetv2_k32_2762.pth.tar',
    'rla_ecamobilenetv2_in1k.pth': 'dsrla_mobilenetv2_k32_eca_2707.pth.tar',
}


def check_pretrained_file(checkpoint: str) -> None:
    """Explain how to get RLA ImageNet weights when a local file is missing.

    mmengine would fail deep inside its loader; this names the fix instead.
    Remote URIs (``http://``, ``torchvision://``, ...) are left to mmengine.

    Raises:
        FileNotFoundError: If ``checkpoint`` is a missing local path.
    """
    if not isinstance(checkpoint, str) or '://' in checkpoint or \
            os.path.isfile(checkpoint):
        return
    source = RELEASED_CHECKPOINTS.get(
        os.path.basename(checkpoint), 'AUTHORS_CHECKPOINT.pth.tar')
    raise FileNotFoundError(
        f'Pretrained backbone weights "{checkpoint}" not found. Either '
        'convert the authors\' ImageNet checkpoint (github.com/'
        'fangyanwen1106/RLANet): python tools/model_converters/'
        f'rlanet_to_mmrla.py {source} {checkpoint} ; or train the backbone '
        'from scratch: --cfg-options model.backbone.init_cfg=None')
