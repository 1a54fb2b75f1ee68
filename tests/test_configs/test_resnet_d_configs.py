"""The paper's refined ImageNet row (appendix B.2.2): RLA-ResNet-50 and
RLA-ECANet-50 as ResNet-D with label smoothing, Mixup, warm-up and cosine
decay over 200 epochs."""
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import REPO, write_tiny_config

# config: exact parameter count. The deep stem (3x3 convs 3->32->32->64 and
# their norms, 28,768) replaces the 7x7 conv and its norm (9,536): +19,232.
# ECA adds 86 kernel weights (5 per block, 7 in the last stage).
PARAMS = {
    'r50rla_d_4xb64_200e_in1k.py': 25_870_696 + 19_232,
    'r50rlaeca_d_4xb64_200e_in1k.py': 25_870_782 + 19_232,
}
# The paper prints 24.67M (2**20 units) for both: the plain model's count.
PAPER_PARAMS = 24.67


def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs', name))


@pytest.mark.parametrize('name', sorted(PARAMS))
def test_resnet_d_builds_with_its_param_count(name):
    from mmpretrain.registry import MODELS
    model = MODELS.build(_cfg(name).model)
    backbone = model.backbone
    count = sum(p.numel() for p in model.parameters())
    assert count == PARAMS[name]
    assert round(count / 2**20, 2) == 24.69
    assert round((count - 19_232) / 2**20, 2) == PAPER_PARAMS
    # (a) the stride in the 3x3 conv of the downsampling blocks.
    first = backbone.layer2[0]
    assert first.conv1.stride == (1, 1) and first.conv2.stride == (2, 2)
    # (b) a stem of three 3x3 convs.
    assert [m.conv.kernel_size for m in backbone.stem] == [(3, 3)] * 3
    assert [m.conv.stride for m in backbone.stem] == [(2, 2), (1, 1), (1, 1)]
    assert not hasattr(backbone, 'conv1')
    # (c) 2x2 average pooling before a non-strided 1x1 conv.
    pool, conv = backbone.layer2[0].downsample[:2]
    assert isinstance(pool, nn.AvgPool2d) and pool.kernel_size == 2
    assert conv.kernel_size == (1, 1) and conv.stride == (1, 1)
    assert model.head.fc.in_features == 2048 + 32
    if 'eca' in name:
        assert backbone.layer4[0].eca is not None
    with torch.no_grad():
        out = model.eval()(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1000)


@pytest.mark.parametrize('name', sorted(PARAMS))
def test_resnet_d_recipe(name):
    cfg = _cfg(name)
    loss = cfg.model.head.loss
    assert loss.type == 'LabelSmoothLoss' and loss.label_smooth_val == 0.1
    assert cfg.model.train_cfg.augments == dict(type='Mixup', alpha=0.2)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.1, 0.9, 1e-4)
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR'
    assert (warmup.begin, warmup.end, warmup.by_epoch) == (0, 5, True)
    assert cosine.type == 'CosineAnnealingLR'
    assert (cosine.begin, cosine.end, cosine.T_max) == (5, 200, 195)
    assert cfg.train_cfg.max_epochs == 200
    # 4 GPUs x 64 images.
    assert cfg.train_dataloader.batch_size * 4 == \
        cfg.auto_scale_lr.base_batch_size == 256


@pytest.mark.parametrize('name,eca',
                         [('r50rla_d_4xb64_200e_in1k.py', False),
                          ('r50rlaeca_d_4xb64_200e_in1k.py', True)])
def test_get_flops_prints_the_counts(name, eca, capsys):
    from tools.analysis_tools.get_flops import main
    assert main([osp.join(REPO, 'configs', name)]) == 0
    text = capsys.readouterr().out
    params = re.search(r'Params: ([\d,]+) = .* = (\S+) \(paper units', text)
    assert int(params.group(1).replace(',', '')) == PARAMS[name]
    assert params.group(2) == '24.69M'
    flops = re.search(r'FLOPs: ([\d,]+) MACs = .* = (\S+) \(paper units', text)
    # The deep stem costs 241M more than the 7x7 conv (4,477,868,576); ECA
    # adds its channel means (5,519,360) and its 1-D convs (87,808).
    macs = int(flops.group(1).replace(',', ''))
    assert 241_000_000 < macs - 4_477_868_576 - 5_607_168 * eca < 241_500_000
    assert flops.group(2) == '4.40G'


@pytest.mark.slow
def test_resnet_d_trains_a_few_iterations(tiny_imagenet, tmp_path):  # noqa
    from tools.train import main
    cfg = write_tiny_config(
        str(tmp_path / 'r50d.py'), 'r50rlaeca_d_4xb64_200e_in1k.py',
        tiny_imagenet)
    assert main([cfg, '--work-dir',
                 str(tmp_path / 'work'), '--no-validate']) == 0
    ckpt = torch.load(
        tmp_path / 'work' / 'epoch_1.pth',
        map_location='cpu',
        weights_only=False)
    # 8 images, batch 4: 2 iterations of the 10-iteration (5-epoch) warm-up,
    # which mmengine's LinearLR ends at full lr after its 9th step.
    assert ckpt['meta']['iter'] == 2
    lr = ckpt['optimizer']['param_groups'][0]['lr']
    assert lr == pytest.approx(0.1 * (0.001 + 0.999 * 2 / 9))
    assert 'backbone.stem.2.conv.weight' in ckpt['state_dict']
    assert 'backbone.layer2.0.downsample.1.weight' in ckpt['state_dict']
