"""Plot the layer attention of a ``LayerAttentionResNet`` classifier.

Runs a checkpoint over images (a folder, files, or the config's test set)
and writes to ``--out-dir``:

- ``layer_attention.json``: the block names (``"2-3"``: stage 2, block 3),
  every image's attention per block, their mean and standard deviation per
  block, and the normalized values below;
- ``layer_attention_mean.png``: the mean attention per block with +-1
  standard deviation, the first block of each stage in red (Figure 5);
- ``layer_attention_normalized.png``: per-image curves of the attention
  normalized layer-wise (each block's value minus its mean over the images,
  divided by its standard deviation over the images; Figure 4, right);
- with ``--gradcam IMAGE``: ``gradcam_<name>.png``, Grad-CAM of one image for
  a target class at every block, taken at the features right before the
  layer-attention scaling, one panel per block titled with its attention
  (Figure 4, left, and Figure 6). It needs the ``grad-cam`` package
  (``pip install grad-cam``), which mmpretrain's CAM tool uses too.

A plain ResNet (``configs/layer_attention/resnet*``, no attention) gets the
Grad-CAM panels alone, each taken where the attention model scales: the
residual branch's last norm (Figure 6's ResNet-18 row).

For RLA-vector models the per-block value is the mean of the channel
vector.

Examples:
    python tools/visualization/layer_attention.py \\
        configs/layer_attention/la-resnet20_b128_cifar10.py \\
        work_dirs/la-resnet20_b128_cifar10/epoch_160.pth \\
        --num-images 1000 --out-dir work_dirs/la20_attention
    python tools/visualization/layer_attention.py \\
        configs/layer_attention/la-resnet50_4xb64_in1k.py la50.pth \\
        --images demo/images --gradcam demo/images/ostrich.jpg \\
        --target-category 9
    python tools/visualization/layer_attention.py \\
        configs/layer_attention/resnet18_4xb64_in1k.py r18.pth \\
        --gradcam demo/images/ostrich.jpg --target-category 9
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import DictAction

from mmrla.cli import load_config, main_entry
from mmrla.errors import UserError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.tif', '.tiff',
                    '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot the layer attention of a LayerAttentionResNet '
        'classifier (mean +- std per block, per-image normalized curves, '
        'Grad-CAM per block) as PNG and JSON.')
    parser.add_argument('config', help='classification config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--images',
        nargs='+',
        help='image files or folders (searched recursively); default: the '
        "config's test set")
    parser.add_argument(
        '--num-images',
        type=int,
        default=500,
        help='at most this many images (default 500)')
    parser.add_argument(
        '--num-curves',
        type=int,
        default=3,
        help='images drawn in the normalized-curve figure (default 3)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument(
        '--out-dir', default='work_dirs/layer_attention', help='output dir')
    parser.add_argument(
        '--gradcam', metavar='IMAGE', help='image for the Grad-CAM panels')
    parser.add_argument(
        '--target-category',
        type=int,
        help='Grad-CAM target class (default: the predicted class)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    args = parser.parse_args(argv)
    if args.num_images < 2:
        parser.error('--num-images must be at least 2: the figures need a '
                     'standard deviation over images.')
    return args


def load_model(config: str,
               checkpoint: str,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None):
    """Build the config's classifier and load ``checkpoint`` into it.

    Returns:
        tuple: The config and the model (eval mode, on ``device``).

    Raises:
        UserError: For missing files, a checkpoint that does not fit the
            model (:func:`~mmrla.weights.check_checkpoint`) or a backbone
            without layer attention.
    """
    from mmengine.registry import init_default_scope

    cfg = load_config(config, cfg_options)
    if not osp.isfile(checkpoint):
        raise UserError(f'Checkpoint {checkpoint} does not exist.')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import MODELS

    import mmrla.models  # noqa: F401  (registers LayerAttentionResNet)
    model = MODELS.build(cfg.model)
    if not hasattr(model.backbone, 'res_layers'):
        raise UserError(
            f'The backbone of {config} ({type(model.backbone).__name__}) is '
            'not a ResNet; use a configs/layer_attention/ config.')
    # A file of another model is refused before mmengine would load it
    # non-strictly and draw the attention of random weights.
    from mmrla.weights import load_checked_checkpoint
    load_checked_checkpoint(model, checkpoint)
    return cfg, model.to(device).eval()


def has_attention(model: nn.Module) -> bool:
    """Whether the classifier's backbone has layer attention (a plain
    ResNet, e.g. Figure 6's comparison panel, has none)."""
    return getattr(model.backbone, 'lstm', None) is not None


def residual_blocks(backbone: nn.Module) -> List[nn.Module]:
    """Every residual block of a ResNet-like backbone, in order."""
    return [b for name in backbone.res_layers for b in getattr(backbone, name)]


def gradcam_layer(block: nn.Module) -> nn.Module:
    """Where Grad-CAM reads a block: right before the layer-attention
    scaling, or, in a plain block, at the same place, the residual branch's
    last norm (before the sum)."""
    if getattr(block, 'layer_attention', None) is not None:
        return block.scale_input
    return getattr(block, 'norm3', None) or block.norm2


def block_names(backbone: nn.Module) -> List[str]:
    """``'<stage>-<block>'`` of every block, 1-based (``'1-1'``, ...)."""
    return [
        f'{i + 1}-{j + 1}' for i, name in enumerate(backbone.res_layers)
        for j in range(len(getattr(backbone, name)))
    ]


def find_images(paths: Sequence[str]) -> List[str]:
    """Image files among ``paths``, folders searched recursively, sorted."""
    found = []
    for path in paths:
        if osp.isdir(path):
            for root, _, files in os.walk(path):
                found += [
                    osp.join(root, f) for f in files
                    if f.lower().endswith(IMAGE_EXTENSIONS)
                ]
        elif osp.isfile(path):
            found.append(path)
        else:
            raise UserError(f'{path} is neither an image nor a folder.')
    if not found:
        raise UserError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) in '
                        f'{", ".join(paths)}.')
    return sorted(found)


def _file_pipeline(cfg):
    """The config's test pipeline, reading images from files."""
    from mmengine.dataset import Compose
    pipeline = list(cfg.test_dataloader.dataset.pipeline)
    if not pipeline or pipeline[0]['type'] != 'LoadImageFromFile':
        # CIFAR's test pipeline starts from decoded arrays.
        pipeline.insert(0, dict(type='LoadImageFromFile'))
    return Compose(pipeline)


def iter_batches(cfg, model: nn.Module, images: Optional[Sequence[str]],
                 num_images: int,
                 batch_size: int) -> Iterator[Tuple[torch.Tensor, list]]:
    """Yield (preprocessed inputs, names) from files or the test set."""
    from mmengine.dataset import pseudo_collate
    if images:
        files = find_images(images)[:num_images]
        pipeline = _file_pipeline(cfg)
        for start in range(0, len(files), batch_size):
            chunk = files[start:start + batch_size]
            batch = pseudo_collate([pipeline(dict(img_path=f)) for f in chunk])
            yield model.data_preprocessor(batch, False)['inputs'], chunk
        return
    from mmengine.runner import Runner

    from mmrla.datasets.synthetic import accept_generated_cifar
    accept_generated_cifar(cfg, ('test', ))
    loader_cfg = cfg.test_dataloader.copy()
    loader_cfg.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    seen = 0
    for batch in loader:
        take = min(num_images - seen, len(batch['inputs']))
        batch = dict(
            inputs=batch['inputs'][:take],
            data_samples=batch['data_samples'][:take])
        names = [f'test[{seen + i}]' for i in range(take)]
        seen += take
        yield model.data_preprocessor(batch, False)['inputs'], names
        if seen >= num_images:
            return


@torch.no_grad()
def collect_attention(model: nn.Module, batches) -> Tuple[np.ndarray, list]:
    """Layer attention of every image at every block.

    Returns:
        tuple: Array (num_images, num_blocks) and the image names.
    """
    blocks = model.backbone.blocks
    current: List[torch.Tensor] = []
    handles = [
        b.layer_attention.register_forward_hook(
            lambda m, args, out: current.append(out.flatten(1).mean(1)))
        for b in blocks
    ]
    rows, names = [], []
    try:
        for inputs, batch_names in batches:
            current.clear()
            model(inputs, mode='tensor')
            rows.append(torch.stack(current, 1).float().cpu().numpy())
            names += batch_names
    finally:
        for h in handles:
            h.remove()
    if not rows:
        raise UserError('No images to run.')
    return np.concatenate(rows), names


def normalize(attention: np.ndarray) -> np.ndarray:
    """Layer-wise z-scores (Figure 4, right): each block's values minus
    their mean over the images, divided by their standard deviation.

    Example:
        >>> import numpy as np
        >>> normalize(np.array([[0.2, 0.5], [0.4, 0.5]])).tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
    """
    attention = attention.astype(np.float64)
    std = attention.std(0)
    # A block whose attention is the same for every image (up to float32
    # noise) gets 0, not noise divided by almost nothing.
    flat = std <= 1e-6
    return np.where(flat, 0.0, attention - attention.mean(0)) / np.where(
        flat, 1.0, std)


def _stage_starts(names: Sequence[str]) -> List[int]:
    return [i for i, n in enumerate(names) if n.endswith('-1')]


def _block_axes(names):
    """A figure with one x position per block."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * len(names) + 2), 4))
    return plt, fig, ax, np.arange(len(names))


def _finish(plt, fig, ax, names, ylabel, title, path):
    many = len(names) > 16
    ax.set_xticks(
        np.arange(len(names)),
        names,
        rotation=90 if many else 0,
        fontsize=7 if many else 9)
    ax.set_xlabel('Layer index (stage-block)')
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_mean(names, attention, path, title):
    """Figure 5: mean +- std per block; stage starts in red."""
    plt, fig, ax, x = _block_axes(names)
    mean, std = attention.mean(0), attention.std(0)
    ax.errorbar(
        x,
        mean,
        yerr=std,
        fmt='-o',
        color='tab:blue',
        capsize=3,
        markersize=4,
        label='mean +- 1 std')
    starts = _stage_starts(names)
    ax.plot(
        x[starts],
        mean[starts],
        'o',
        color='red',
        markersize=6,
        label='first block of a stage')
    ax.set_ylim(-0.02, 1.02)
    _finish(plt, fig, ax, names, 'Layer attention', title, path)


def plot_normalized(names, normalized, image_names, path, title):
    """Figure 4, right: normalized attention curves of a few images, each
    image's highest block boxed in red."""
    plt, fig, ax, x = _block_axes(names)
    for row, name in zip(normalized, image_names):
        ax.plot(x, row, '-o', markersize=4, label=osp.basename(name))
        top = int(np.argmax(row))
        ax.plot(
            x[top],
            row[top],
            's',
            markersize=10,
            markerfacecolor='none',
            markeredgecolor='red')
    ax.axhline(0, color='gray', linewidth=0.8)
    _finish(plt, fig, ax, names, 'Normalized layer attention', title, path)


class _Logits(nn.Module):
    """The classifier as ``inputs -> logits``, as Grad-CAM expects."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.classifier(inputs, mode='tensor')


def _denormalize(model, inputs: torch.Tensor) -> np.ndarray:
    """The preprocessed image (1, 3, H, W) as RGB floats in [0, 1]."""
    pre = model.data_preprocessor
    img = inputs[0].float().cpu()
    if getattr(pre, '_enable_normalize', False):
        img = img * pre.std.cpu() + pre.mean.cpu()
    return (img.permute(1, 2, 0).numpy() / 255).clip(0, 1)


def gradcam_panels(cfg, model, image: str, target: Optional[int], names,
                   path: str) -> dict:
    """Figure 4 (left) / 6: Grad-CAM of ``image`` at every block.

    Uses the ``grad-cam`` package's ``GradCAM`` on each block's
    ``scale_input``, the features right before the layer-attention scaling.

    Returns:
        dict: ``target`` class, and each block's ``attention``.
    """
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.image import show_cam_on_image
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as e:
        raise UserError('--gradcam needs the grad-cam package: pip install '
                        'grad-cam') from e
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    inputs, _ = next(iter_batches(cfg, model, [image], 1, 1))
    attention = collect_attention(model, [(inputs, [image])])[0] \
        if has_attention(model) else None
    wrapper = _Logits(model)
    with torch.no_grad():
        logits = wrapper(inputs)
    if target is None:
        target = int(logits.argmax(1))
    elif not 0 <= target < logits.shape[1]:
        raise UserError(f'--target-category {target} is out of range: the '
                        f'model has {logits.shape[1]} classes.')
    rgb = _denormalize(model, inputs)
    blocks = residual_blocks(model.backbone)
    cols = min(len(blocks) + 1, 9)
    rows = -(-(len(blocks) + 1) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    axes.flat[0].imshow(rgb)
    axes.flat[0].set_title(
        f'{osp.basename(image)}\nclass {target}', fontsize=8)
    best = None if attention is None else int(np.argmax(attention[0]))
    for i, (block, name) in enumerate(zip(blocks, names)):
        with GradCAM(
                model=wrapper, target_layers=[gradcam_layer(block)]) as cam:
            heat = cam(
                input_tensor=inputs,
                targets=[ClassifierOutputTarget(target)])[0]
        ax = axes.flat[i + 1]
        ax.imshow(
            show_cam_on_image(rgb.astype(np.float32), heat, use_rgb=True))
        ax.set_title(
            name if attention is None else f'{name}: {attention[0, i]:.3f}',
            fontsize=8,
            color='red' if i == best else 'black')
    fig.suptitle(
        'Grad-CAM of the residual branch before the sum (title: block)' if
        attention is None else 'Grad-CAM before the layer-attention scaling '
        '(title: block: attention; red: highest)',
        fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return dict(
        target=target,
        attention=None if attention is None else attention[0].tolist())


def run_plain(args, cfg, model, names) -> dict:
    """A ResNet without layer attention: only the Grad-CAM panels (Figure
    6's plain ResNet row)."""
    if not args.gradcam:
        raise UserError(
            f'The backbone of {args.config} '
            f'({type(model.backbone).__name__}) has no layer attention, so '
            'only its Grad-CAM panels can be drawn: add --gradcam IMAGE, or '
            'use a configs/layer_attention/la-* config.')
    stem = osp.splitext(osp.basename(args.gradcam))[0]
    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        blocks=names,
        gradcam=dict(
            image=args.gradcam,
            **gradcam_panels(cfg, model, args.gradcam, args.target_category,
                             names,
                             osp.join(args.out_dir, f'gradcam_{stem}.png'))))
    with open(osp.join(args.out_dir, 'layer_attention.json'), 'w') as f:
        json.dump(result, f, indent=1)
    return result


def run(args) -> dict:
    """Write the figures and the JSON; returns the JSON's content."""
    cfg, model = load_model(args.config, args.checkpoint, args.device,
                            args.cfg_options)
    names = block_names(model.backbone)
    if not has_attention(model):
        os.makedirs(args.out_dir, exist_ok=True)
        return run_plain(args, cfg, model, names)
    os.makedirs(args.out_dir, exist_ok=True)
    attention, image_names = collect_attention(
        model,
        iter_batches(cfg, model, args.images, args.num_images,
                     args.batch_size))
    if len(attention) < 2:
        raise UserError('Only one image: the mean +- std and the normalized '
                        'curves need at least two.')
    normalized = normalize(attention)
    model_name = osp.splitext(osp.basename(args.config))[0]
    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        blocks=names,
        num_images=len(attention),
        mean=attention.mean(0).tolist(),
        std=attention.std(0).tolist(),
        images=image_names,
        attention=attention.tolist(),
        normalized=normalized.tolist())
    plot_mean(
        names, attention, osp.join(args.out_dir, 'layer_attention_mean.png'),
        f'{model_name}: mean layer attention over '
        f'{len(attention)} images')
    plot_normalized(names, normalized[:args.num_curves],
                    image_names[:args.num_curves],
                    osp.join(args.out_dir, 'layer_attention_normalized.png'),
                    f'{model_name}: normalized layer attention')
    if args.gradcam:
        stem = osp.splitext(osp.basename(args.gradcam))[0]
        result['gradcam'] = dict(
            image=args.gradcam,
            **gradcam_panels(cfg, model, args.gradcam, args.target_category,
                             names,
                             osp.join(args.out_dir, f'gradcam_{stem}.png')))
    with open(osp.join(args.out_dir, 'layer_attention.json'), 'w') as f:
        json.dump(result, f, indent=1)
    return result


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(args)
    if 'mean' not in result:
        print(f'No layer attention; wrote {args.out_dir}/gradcam_*.png and '
              'layer_attention.json')
        return 0
    print(f'{result["num_images"]} images, {len(result["blocks"])} blocks; '
          f'mean attention per block: '
          f'{", ".join(f"{v:.3f}" for v in result["mean"])}')
    print(f'Wrote {args.out_dir}/layer_attention.json, '
          'layer_attention_mean.png, layer_attention_normalized.png' +
          (', gradcam_*.png' if args.gradcam else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
