"""End to end for the layer-attention family: a CIFAR config and a COCO 2014
config through tools/train.py and tools/test.py on tiny data, the
visualization tool's PNG and JSON, the parameter table and the synthetic
CIFAR generator."""
import json
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fixtures.det_configs import REPO, small_options
from tests.fixtures.tiny_cifar import (NUM_TEST, cifar_options, tiny_cifar,
                                       tiny_cifar_root)
from tests.fixtures.tiny_coco import tiny_coco_fixture  # noqa: F401

assert tiny_cifar and tiny_cifar_root  # fixtures, used by name below

LA20 = osp.join(REPO, 'configs', 'layer_attention',
                'la-resnet20_b128_cifar10.py')
TOOLS = ('visualization/layer_attention.py',
         'dataset_converters/generate_cifar_shapes.py')


def _options(options):
    return ['--cfg-options'] + [
        f'{k}=({",".join(map(str, v))})'
        if isinstance(v, tuple) else f'{k}={v}' for k, v in options.items()
    ]


def _train(*args):
    from tools.train import main
    return main([str(a) for a in args])


def _test(*args):
    from tools.test import main
    return main([str(a) for a in args])


def _visualize(*args):
    from tools.visualization.layer_attention import main
    return main([str(a) for a in args])


@pytest.fixture(scope='module')
def la20_checkpoint(tiny_cifar_root, tmp_path_factory):
    """One epoch of LA-ResNet-20 on the tiny set (2 iterations)."""
    from mmrla.datasets.synthetic import cifar_shapes
    from mmrla.datasets.synthetic.cifar_shapes import disable_md5_checks
    patch = pytest.MonkeyPatch()
    disable_md5_checks(patch.setattr)
    # The tool turns them off too: for this fixture only.
    patch.setattr(cifar_shapes, 'disable_md5_checks',
                  lambda: disable_md5_checks(patch.setattr))
    work_dir = tmp_path_factory.mktemp('la20')
    try:
        assert _train(LA20, '--work-dir', work_dir,
                      *_options(cifar_options(tiny_cifar_root))) == 0
    finally:
        patch.undo()
    return work_dir / 'epoch_1.pth'


@pytest.mark.slow
def test_cifar_config_trains_and_tests(la20_checkpoint, tiny_cifar, tmp_path,
                                       capsys):
    ckpt = torch.load(la20_checkpoint, map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    state = ckpt['state_dict']
    assert 'backbone.lstm.weight_ih' in state
    assert state['backbone.lstm.weight_ih'].shape == (4 * 4, 32)
    assert 'backbone.layer3.2.layer_attention.fc.2.weight' in state
    # The paper's optimizer went through the run.
    group = ckpt['optimizer']['param_groups'][0]
    assert group['nesterov'] and group['lr'] == pytest.approx(0.1)
    capsys.readouterr()
    out = tmp_path / 'preds.pkl'
    assert _test(LA20, la20_checkpoint, '--work-dir', tmp_path / 'test',
                 '--out', out, *_options(cifar_options(tiny_cifar))) == 0
    assert 'accuracy/top1' in capsys.readouterr().out
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == NUM_TEST
    assert preds[0]['pred_score'].shape == (10, )


def test_missing_cifar_folder_is_explained(tmp_path, capsys):
    options = cifar_options(str(tmp_path / 'no_cifar'))
    assert _train(LA20, '--work-dir', tmp_path / 'work',
                  *_options(options)) == 2
    err = capsys.readouterr().err
    assert 'no_cifar' in err and 'does not exist' in err
    (tmp_path / 'no_cifar').mkdir()
    assert _train(LA20, '--work-dir', tmp_path / 'work',
                  *_options(options)) == 2
    err = capsys.readouterr().err
    assert osp.join('no_cifar', 'cifar-10-batches-py') in err


@pytest.mark.slow
def test_coco2014_config_trains_and_tests(tiny_coco, tmp_path):
    config = osp.join(REPO, 'configs', 'layer_attention',
                      'faster-rcnn_la-r50_coco2014.py')
    options = _options(small_options(tiny_coco, 'faster_rcnn'))
    work_dir = tmp_path / 'train'
    assert _train(config, '--work-dir', work_dir, *options) == 0
    ckpt = work_dir / 'epoch_1.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert 'backbone.lstm.weight_hh' in state['state_dict']
    out = tmp_path / 'results.pkl'
    assert _test(config, ckpt, '--work-dir', tmp_path / 'test', '--out', out,
                 *options) == 0
    with open(out, 'rb') as f:
        dumped = pickle.load(f)
    assert sorted(d['img_id'] for d in dumped) == [1, 2, 3, 4]


def _png(path):
    with Image.open(path) as img:
        assert img.format == 'PNG' and min(img.size) > 100
        return np.asarray(img.convert('RGB'))


@pytest.mark.slow
def test_visualization_on_image_folder(la20_checkpoint, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3),
                                     np.uint8)).save(folder / f'img{i}.png')
    out_dir = tmp_path / 'vis'
    assert _visualize(LA20, la20_checkpoint, '--images', folder, '--out-dir',
                      out_dir, '--batch-size', 2) == 0
    with open(out_dir / 'layer_attention.json') as f:
        result = json.load(f)
    assert result['blocks'][:4] == ['1-1', '1-2', '1-3', '2-1']
    assert len(result['blocks']) == 9 and result['num_images'] == 5
    attention = np.array(result['attention'])
    assert attention.shape == (5, 9)
    assert ((attention > 0) & (attention < 1)).all()
    np.testing.assert_allclose(result['mean'], attention.mean(0), atol=1e-6)
    np.testing.assert_allclose(result['std'], attention.std(0), atol=1e-6)
    normalized = np.array(result['normalized'])
    np.testing.assert_allclose(normalized.mean(0), 0, atol=1e-6)
    assert [osp.basename(p)
            for p in result['images']] == [f'img{i}.png' for i in range(5)]
    for name in ('layer_attention_mean.png', 'layer_attention_normalized.png'):
        pixels = _png(out_dir / name)
        assert pixels.std() > 0  # something is drawn

    # The values are the model's: the backbone's heads give the same.
    from tools.visualization.layer_attention import load_model
    _, model = load_model(LA20, str(la20_checkpoint))
    records = []
    for block in model.backbone.blocks:
        block.layer_attention.register_forward_hook(
            lambda m, a, out: records.append(out.flatten()))
    from mmengine.dataset import Compose, pseudo_collate
    pipeline = Compose(
        [dict(type='LoadImageFromFile'),
         dict(type='PackInputs')])
    batch = pseudo_collate([pipeline(dict(img_path=str(folder / 'img0.png')))])
    with torch.no_grad():
        model(model.data_preprocessor(batch)['inputs'], mode='tensor')
    np.testing.assert_allclose(
        torch.cat(records).numpy(), attention[0], rtol=1e-5)


@pytest.mark.slow
def test_visualization_on_test_set(la20_checkpoint, tiny_cifar, tmp_path):
    out_dir = tmp_path / 'vis'
    assert _visualize(LA20, la20_checkpoint, '--num-images', 6, '--out-dir',
                      out_dir, *_options(cifar_options(tiny_cifar, 4))) == 0
    with open(out_dir / 'layer_attention.json') as f:
        result = json.load(f)
    assert result['num_images'] == 6
    assert result['images'] == [f'test[{i}]' for i in range(6)]


@pytest.mark.slow
def test_visualization_gradcam(la20_checkpoint, tmp_path):
    # grad-cam is a pinned test requirement: no skip if it is missing.
    image = tmp_path / 'x.png'
    Image.fromarray(
        np.random.default_rng(1).integers(0, 255, (32, 32, 3),
                                          np.uint8)).save(image)
    out_dir = tmp_path / 'vis'
    assert _visualize(LA20, la20_checkpoint, '--images', image, image,
                      '--gradcam', image, '--target-category', 2, '--out-dir',
                      out_dir) == 0
    with open(out_dir / 'layer_attention.json') as f:
        result = json.load(f)
    assert result['gradcam']['target'] == 2
    assert len(result['gradcam']['attention']) == 9
    _png(out_dir / 'gradcam_x.png')


@pytest.mark.slow
def test_visualization_errors(la20_checkpoint, tmp_path, capsys):
    baseline = osp.join(REPO, 'configs', 'layer_attention',
                        'resnet20_b128_cifar10.py')
    assert _visualize(baseline, la20_checkpoint, '--images', tmp_path) == 2
    assert 'has no layer attention' in capsys.readouterr().err
    assert _visualize(LA20, tmp_path / 'none.pth') == 2
    assert 'does not exist' in capsys.readouterr().err
    assert _visualize(LA20, la20_checkpoint, '--images', tmp_path) == 2
    assert 'No images' in capsys.readouterr().err


def test_param_table(capsys):
    from tools.analysis_tools.paper_tables import main
    names = ('la-resnet56_b128_cifar10', 'se-resnet20_b128_cifar100')
    assert main([
        osp.join(REPO, 'configs', 'layer_attention', n + '.py') for n in names
    ] + ['--family', 'layer-attention']) == 0
    # In the paper's order: Table 2's rows by depth.
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith('| se-resnet20_b128_cifar100 | 2 | 280,697 ')
    assert '| 0.278M |' in lines[2] and '| 31.08 |' in lines[2]
    assert lines[3].startswith('| la-resnet56_b128_cifar10 | 2 | 857,053 '
                               '(0.857M) | 0.859M | - | - |')


def test_cifar_generator_writes_what_cifar10_reads(tmp_path, monkeypatch):
    from mmpretrain.datasets import CIFAR10, CIFAR100

    from mmrla.datasets.synthetic import disable_md5_checks
    from tools.dataset_converters.generate_cifar_shapes import main
    disable_md5_checks(monkeypatch.setattr)
    main([str(tmp_path / 'c10'), '--num-train', '30', '--num-test', '9'])
    main([
        str(tmp_path / 'c100'), '--num-train', '6', '--num-test', '3',
        '--format', 'cifar100'
    ])
    train = CIFAR10(
        data_root=str(tmp_path / 'c10'), split='train', download=False)
    assert len(train) == 30
    labels = [train.get_data_info(i)['gt_label'] for i in range(30)]
    assert sorted(set(labels)) == [0, 1, 2]
    assert np.bincount(labels).tolist() == [10, 10, 10]
    img = train.get_data_info(0)['img']
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert len(
        CIFAR100(
            data_root=str(tmp_path / 'c100'), split='test',
            download=False)) == 3


@pytest.mark.slow
@pytest.mark.parametrize('tool', TOOLS)
def test_tools_answer_help(tool):
    proc = subprocess.run([sys.executable, f'tools/{tool}', '--help'],
                          cwd=REPO,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'usage:' in proc.stdout
