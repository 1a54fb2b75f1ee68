"""Figure 3 and Figure 6 of the layer-attention paper from tiny runs:
training accuracy logged with ``model.head.cal_acc=True`` (nothing without
it), tools/visualization/error_curves.py over two work dirs, and the plain
ResNet's Grad-CAM panels of tools/visualization/layer_attention.py."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.tiny_cifar import tiny_cifar  # noqa: F401
from tests.fixtures.tiny_cifar import tiny_cifar_root  # noqa: F401
from tests.fixtures.tiny_cifar import cifar_options
from tests.fixtures.tiny_imagenet import REPO

pytestmark = pytest.mark.slow
CONFIGS = {
    name: osp.join(REPO, 'configs', 'layer_attention', name + '.py')
    for name in ('resnet20_b128_cifar10', 'la-resnet20_b128_cifar10')
}


def _options(options):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


@pytest.fixture(scope='module')
def runs(tiny_cifar_root, tmp_path_factory):  # noqa: F811
    """ResNet-20 and LA-ResNet-20, 2 epochs of 2 iterations each, with the
    training accuracy logged; and LA-ResNet-20 without it."""
    from mmrla.datasets.synthetic.cifar_shapes import disable_md5_checks
    from tools.train import main
    patch = pytest.MonkeyPatch()
    disable_md5_checks(patch.setattr)
    root = tmp_path_factory.mktemp('curves')
    options = cifar_options(tiny_cifar_root)
    options['train_cfg.max_epochs'] = 2
    dirs = {}
    try:
        for name, config in CONFIGS.items():
            dirs[name] = root / name
            assert main([
                config, '--work-dir',
                str(dirs[name]),
                *_options({
                    **options, 'model.head.cal_acc': True
                })
            ]) == 0
        dirs['off'] = root / 'off'
        assert main([
            CONFIGS['la-resnet20_b128_cifar10'], '--work-dir',
            str(dirs['off']), *_options(options)
        ]) == 0
    finally:
        patch.undo()
    return dirs


def _records(work_dir):
    from tools.visualization.error_curves import read_curves
    return read_curves(str(work_dir))


def test_training_accuracy_is_logged_only_when_asked(runs):
    on = _records(runs['la-resnet20_b128_cifar10'])
    assert list(on['train']) == [1, 2] and list(on['val']) == [1, 2]
    assert all(0 <= e <= 100 for e in on['train'].values())
    off = _records(runs['off'])
    assert off['train'] == {} and list(off['val']) == [1, 2]


def test_error_curves_of_two_runs(runs, tmp_path, capsys):
    from tools.visualization.error_curves import main
    out = tmp_path / 'figure3.png'
    assert main([
        str(runs['resnet20_b128_cifar10']),
        str(runs['la-resnet20_b128_cifar10']), '--labels', 'ResNet-20',
        'RLA-20', '--out',
        str(out)
    ]) == 0
    with Image.open(out) as img:
        assert img.format == 'PNG' and np.asarray(img).std() > 0
    with open(tmp_path / 'figure3.json') as f:
        curves = json.load(f)
    assert list(curves) == ['ResNet-20', 'RLA-20']
    assert list(curves['RLA-20']['val']) == ['1', '2']
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('ResNet-20: 2 validated epochs, last '
                               'training error ')
    assert lines[-1] == f'Wrote {out}'


def test_error_curves_errors(tmp_path, capsys):
    from tools.visualization.error_curves import main
    assert main([str(tmp_path)]) == 2
    assert 'has no */vis_data/scalars.json' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path), '--labels', 'a', 'b'])


def test_plain_resnet_gets_gradcam_panels(runs, tmp_path, capsys):
    from tools.visualization.layer_attention import main
    image = tmp_path / 'x.png'
    Image.fromarray(
        np.random.default_rng(1).integers(0, 255, (32, 32, 3),
                                          np.uint8)).save(image)
    config = CONFIGS['resnet20_b128_cifar10']
    ckpt = runs['resnet20_b128_cifar10'] / 'epoch_2.pth'
    out_dir = tmp_path / 'vis'
    assert main([
        config,
        str(ckpt), '--gradcam',
        str(image), '--target-category', '1', '--out-dir',
        str(out_dir)
    ]) == 0
    with open(out_dir / 'layer_attention.json') as f:
        result = json.load(f)
    assert len(result['blocks']) == 9
    assert result['gradcam']['target'] == 1
    assert result['gradcam']['attention'] is None
    with Image.open(out_dir / 'gradcam_x.png') as img:
        assert img.format == 'PNG' and np.asarray(img).std() > 0
    # Without --gradcam there is nothing to draw for it: one line.
    capsys.readouterr()
    assert main([config, str(ckpt), '--images', str(image)]) == 2
    err = capsys.readouterr().err
    assert 'has no layer attention' in err and '--gradcam' in err
