"""Every path that reads a checkpoint loads it weights-only.

A malicious checkpoint (its pickle calls ``os.system('touch PWNED')``) is
refused on each path with one line naming ``posix.system`` and the opt-in,
and ``PWNED`` is never created; a genuine file (a resume checkpoint of
``tools/train.py``, a converted authors' file, the weights of a built model)
loads on the same path.
"""
import logging
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from mmrla.engine.safe_load import (TRUST_ENV, CheckpointLoadError,
                                    enable_safe_loading)
from tests.fixtures.det_configs import DEMO_CONFIG, NARROW_DEMO_MODEL
from tests.fixtures.malicious import marker_path, save_malicious
from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import REPO, write_tiny_config

CLS_MODEL = 'rla-mobilenet-v2_2xb48_in1k'
CLS_BASE = 'mobilenetv2rla_2xb48_in1k.py'
LA20 = osp.join(REPO, 'configs', 'layer_attention',
                'la-resnet20_b128_cifar10.py')
LAG = osp.join(REPO, 'configs', 'cifar', 'densenet',
               'densenet-bc100-shared-lag_b128_cifar10.py')
# DenseNet-BC 28: 4 layers a block, 90 output channels.
LAG_OPTIONS = ['model.backbone.depth=28', 'model.head.in_channels=90']


class Context:
    """What a path needs besides the checkpoint."""

    def __init__(self, tmp_path, capsys, files) -> None:
        self.tmp_path, self.capsys, self.files = tmp_path, capsys, files

    def tool(self, main, *args) -> str:
        """Run a tool's ``main``; its error output if it failed."""
        self.capsys.readouterr()
        rc = main([str(a) for a in args])
        err = self.capsys.readouterr().err
        return err if rc else ''


def _api(load) -> str:
    """Call ``load`` as a script would after the documented switch."""
    enable_safe_loading()
    try:
        load()
    except CheckpointLoadError as e:
        return f'error: {e}\n'
    return ''


# The paths ----------------------------------------------------------------


def train_resume(ctx, path):
    from tools.train import main
    return ctx.tool(main, ctx.files['cls_config'], '--work-dir',
                    ctx.tmp_path / 'work', '--resume', path)


def train_resume_auto(ctx, path):
    from tools.train import main
    work_dir = ctx.tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(path))
    return ctx.tool(main, ctx.files['cls_config'], '--work-dir', work_dir,
                    '--resume')


def train_load_from(ctx, path):
    from tools.train import main
    return ctx.tool(main, ctx.files['cls_config'], '--work-dir',
                    ctx.tmp_path / 'work', '--cfg-options',
                    f'load_from={path}')


def train_pretrained_backbone(ctx, path):
    from tools.train import main
    config = write_tiny_config(
        str(ctx.tmp_path / 'pretrained.py'),
        CLS_BASE,
        ctx.files['tiny_imagenet'],
        extra=f'model = dict(backbone=dict(init_cfg=dict(type="Pretrained", '
        f'checkpoint={str(path)!r}, prefix="backbone.")))')
    return ctx.tool(main, config, '--work-dir', ctx.tmp_path / 'work')


def tools_test(ctx, path):
    from tools.test import main
    return ctx.tool(main, ctx.files['cls_config'], path, '--work-dir',
                    ctx.tmp_path / 'test')


def backbone_init_cfg(ctx, path):
    """An RLA backbone's ``init_cfg`` ``Pretrained``, read by mmengine's
    PretrainedInit."""
    from mmpretrain.registry import MODELS

    from mmrla.cli import load_config
    from mmrla.cli.build import mmengine_log_level
    cfg = load_config(ctx.files['cls_config'])
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(path), prefix='backbone.')
    model = MODELS.build(cfg.model)
    with mmengine_log_level(logging.WARNING):
        return _api(model.init_weights)


def mmpretrain_init_cfg(ctx, path):
    """Any OpenMMLab model in the process: mmpretrain's ResNet-18, whose
    PretrainedInit reads through mmengine's CheckpointLoader."""
    from mmpretrain.models import ResNet

    from mmrla.cli.build import mmengine_log_level
    model = ResNet(
        depth=18, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with mmengine_log_level(logging.WARNING):
        return _api(model.init_weights)


def get_model(ctx, path):
    import mmpretrain
    return _api(lambda: mmpretrain.get_model(CLS_MODEL, pretrained=str(path)))


def classification_inferencer(ctx, path):
    from mmpretrain import ImageClassificationInferencer
    return _api(lambda: ImageClassificationInferencer(
        CLS_MODEL, pretrained=str(path), device='cpu'))


def detection_demo(ctx, path):
    """demo/quick_start.py draws predictions with mmdet's DetInferencer."""
    from demo.quick_start import draw_predictions
    return _api(lambda: draw_predictions(ctx.files['det_config'], str(
        path), [ctx.files['image']], str(ctx.tmp_path / 'vis')))


def converter(ctx, path):
    from tools.model_converters.rlanet_to_mmrla import main
    return ctx.tool(main, path, ctx.tmp_path / 'converted.pth')


def onnx_export(ctx, path):
    from tools.deployment.pytorch2onnx import main
    return ctx.tool(main, ctx.files['cls_config'], path, '--out',
                    ctx.tmp_path / 'model.onnx', '--shape', 32, 32,
                    '--no-verify')


def layer_attention_tool(ctx, path):
    from tools.visualization.layer_attention import main
    return ctx.tool(main, LA20, path, '--images', ctx.files['images'],
                    '--out-dir', ctx.tmp_path / 'vis')


def shared_weights_tool(ctx, path):
    from tools.visualization.shared_weights import main
    return ctx.tool(main, LAG, path, '--out-dir', ctx.tmp_path / 'vis',
                    '--cfg-options', *LAG_OPTIONS)


def key_checks(ctx, path):
    from mmrla.cli import build_model_without_weights, load_config
    from mmrla.errors import UserError
    from mmrla.weights import check_checkpoint, check_checkpoint_file
    model = build_model_without_weights(load_config(ctx.files['cls_config']))
    try:
        check_checkpoint(model, str(path))
    except UserError as e:
        return f'error: {e}\n'
    return _api(lambda: check_checkpoint_file(str(path)))


# Each path, and the genuine file it loads.
PATHS = {
    train_resume: 'cls_checkpoint',
    train_resume_auto: 'cls_checkpoint',
    train_load_from: 'cls_checkpoint',
    train_pretrained_backbone: 'cls_checkpoint',
    tools_test: 'cls_checkpoint',
    backbone_init_cfg: 'cls_checkpoint',
    mmpretrain_init_cfg: 'resnet18',
    get_model: 'converted_mobilenet',
    classification_inferencer: 'converted_mobilenet',
    detection_demo: 'det_checkpoint',
    converter: 'authors_mobilenet',
    onnx_export: 'cls_checkpoint',
    layer_attention_tool: 'la20',
    shared_weights_tool: 'lag',
    key_checks: 'converted_mobilenet',
}

# Files --------------------------------------------------------------------


def _save_weights(path, model) -> str:
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


def _built(config, options=()):
    from mmengine.config import DictAction

    from mmrla.cli import build_model_without_weights, load_config
    parsed = {}
    for option in options:
        key, value = option.split('=')
        parsed[key] = DictAction._parse_iterable(value)
    return build_model_without_weights(load_config(config, parsed))


class Files(dict):
    """Configs and genuine checkpoints, made when a test first asks."""

    def __init__(self, folder, data_root: str) -> None:
        super().__init__(tiny_imagenet=data_root)
        self.folder = folder

    def __missing__(self, key):
        self[key] = value = getattr(self, f'_{key}')()
        return value

    def _cls_config(self):
        return write_tiny_config(
            str(self.folder / 'cls.py'), CLS_BASE, self['tiny_imagenet'])

    def _image(self):
        path = str(self.folder / 'image.png')
        pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3),
                                                   np.uint8)
        Image.fromarray(pixels).save(path)
        return path

    def _images(self):
        folder = self.folder / 'images'
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3),
                                         np.uint8)).save(folder / f'{i}.png')
        return str(folder)

    def _det_config(self):
        from mmrla.datasets.synthetic.shapes import generate_shapes
        shapes = str(self.folder / 'shapes') + '/'
        generate_shapes(shapes, num_train=2, num_val=1, size=64, seed=0)
        path = self.folder / 'det.py'
        path.write_text(f"""
_base_ = {DEMO_CONFIG!r}
{NARROW_DEMO_MODEL}
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={shapes!r}))
train_cfg = dict(max_epochs=1)
randomness = dict(seed=0)
""")
        return str(path)

    def _cls_checkpoint(self):
        """A resume checkpoint of tools/train.py (with ExactResumeHook)."""
        from tools.train import main
        work_dir = self.folder / 'cls_work'
        assert main([self['cls_config'], '--work-dir', str(work_dir)]) == 0
        return str(work_dir / 'epoch_1.pth')

    def _det_checkpoint(self):
        from tools.train import main
        work_dir = self.folder / 'det_work'
        assert main(
            [self['det_config'], '--work-dir',
             str(work_dir), '--no-validate']) == 0
        return str(work_dir / 'epoch_1.pth')

    def _authors_mobilenet(self):
        from tests.fixtures.reference_models import (RefRLAMobileNetV2,
                                                     randomize_)
        ref = randomize_(RefRLAMobileNetV2(), seed=1)
        path = str(self.folder / 'dsrla_mobilenetv2_k32_2762.pth.tar')
        torch.save(
            {
                'epoch': 400,
                'arch': 'dsrla_mobilenetv2_k32',
                'state_dict': {
                    f'module.{k}': v
                    for k, v in ref.state_dict().items()
                },
                'best_acc1': torch.tensor(72.4)
            }, path)
        return path

    def _converted_mobilenet(self):
        from tools.model_converters.rlanet_to_mmrla import main
        path = str(self.folder / 'rla_mobilenetv2_in1k.pth')
        assert main([self['authors_mobilenet'], path]) == 0
        return path

    def _resnet18(self):
        from mmpretrain.models import ResNet
        return _save_weights(self.folder / 'resnet18.pth', ResNet(depth=18))

    def _la20(self):
        return _save_weights(self.folder / 'la20.pth', _built(LA20))

    def _lag(self):
        return _save_weights(self.folder / 'lag.pth', _built(LAG, LAG_OPTIONS))


@pytest.fixture(scope='module')
def files(tmp_path_factory, tiny_imagenet):  # noqa: F811
    return Files(tmp_path_factory.mktemp('files'), tiny_imagenet)


@pytest.fixture
def ctx(tmp_path, capsys, files, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    return Context(tmp_path, capsys, files)


def _id(path) -> str:
    return path.__name__


@pytest.mark.parametrize('path', PATHS, ids=_id)
def test_a_malicious_file_is_refused_and_nothing_runs(path, ctx, tmp_path):
    marker = marker_path(tmp_path)
    evil = save_malicious(str(tmp_path / 'evil.pth'), marker)
    error = path(ctx, evil)
    assert not osp.exists(marker)
    assert error.startswith(f'error: Refusing to load {evil}: its pickle '
                            'asks for posix.system, '), error
    assert f'{TRUST_ENV}=1' in error
    assert error.count('\n') == 1, error


@pytest.mark.parametrize(
    'path', [train_load_from, tools_test, converter, key_checks], ids=_id)
def test_a_file_that_is_no_checkpoint_gets_one_line(path, ctx, tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint\n')
    error = path(ctx, text)
    assert error.startswith(f'error: Cannot load {text} as a PyTorch '
                            'checkpoint ('), error
    assert error.count('\n') == 1, error


@pytest.mark.parametrize(
    'path', [get_model, classification_inferencer, backbone_init_cfg], ids=_id)
def test_an_unconverted_authors_file_stops_with_the_converter_command(
        path, ctx, files):
    # mmengine would load it non-strictly and leave the model random.
    error = path(ctx, files['authors_mobilenet'])
    assert error.count('\n') == 1, error
    assert files['authors_mobilenet'] in error
    assert 'tools/model_converters/rlanet_to_mmrla.py' in error


@pytest.mark.slow
@pytest.mark.parametrize('path', PATHS, ids=_id)
def test_a_genuine_file_loads(path, ctx, files):
    assert path(ctx, files[PATHS[path]]) == ''


@pytest.mark.slow
@pytest.mark.parametrize(
    'path', [train_resume, get_model, detection_demo], ids=_id)
def test_a_genuine_file_with_a_payload_is_refused(path, ctx, files, tmp_path):
    """The payload inside a file that would otherwise load."""
    marker = marker_path(tmp_path)
    evil = save_malicious(
        str(tmp_path / 'evil.pth'), marker, genuine=files[PATHS[path]])
    assert 'asks for posix.system' in path(ctx, evil)
    assert not osp.exists(marker)


@pytest.mark.slow
def test_the_opt_in_loads_a_trusted_file_and_says_so_once(files, tmp_path):
    """tools/test.py reads the file twice (its check, then the runner)."""
    import subprocess
    import sys

    from tests.fixtures.malicious import save_with_datetime
    dated = save_with_datetime(
        str(tmp_path / 'dated.pth'), genuine=files['cls_checkpoint'])
    command = [
        sys.executable, 'tools/test.py', files['cls_config'], dated,
        '--work-dir',
        str(tmp_path / 'test')
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop(TRUST_ENV, None)
    refused = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f'error: Refusing to load {dated}: its pickle asks for '
        'datetime.datetime, ')
    env[TRUST_ENV] = '1'
    trusted = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True)
    output = trusted.stdout + trusted.stderr
    assert trusted.returncode == 0, output[-3000:]
    assert output.count(f'Loaded {dated} with full pickle ({TRUST_ENV}=1): '
                        'it asks for datetime.datetime') == 1
    assert "'accuracy/top1'" in trusted.stdout
