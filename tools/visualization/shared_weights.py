"""Plot the shared 1x1 weights of a DenseNet-BC with shared aggregation
(RLA-Net Figure 3 and appendix A.2).

Reads a ``LayerAggregationDenseNet`` classifier (a config and a checkpoint,
or ``--random`` for an untrained model) and writes to ``--out-dir``:

- ``shared_weights.png`` (``shared_lag`` / ``shared_ordinal`` models): the
  norm of each shared matrix ``W_j`` per dense block, x = lag j
  (Shared-Lag, Eq. 9) or source layer j (Shared-Ordinal, Eq. 10), one panel
  per block with its exponential fit ``a * exp(-b * x)`` and R^2; with
  ``--overlay`` the three blocks share one panel, as the paper's subplots;
- ``source_weights.png`` (every model): DenseNet's Figure 5 for each block,
  a heat map of the norm of ``W_{t,s}``, the 1x1 weights of layer t on source
  s (0: the block input), built from the shared matrices where shared;
- ``shared_weights.json``: the numbers of both figures and the fits.

The norm is the average absolute weight (``--norm mean_abs``, DenseNet's
Figure 5) or the Frobenius norm (``--norm l2``).

Examples:
    python tools/visualization/shared_weights.py \\
        configs/cifar/densenet/densenet-bc100-shared-lag_b128_cifar10.py \\
        work_dirs/densenet-bc100-shared-lag_b128_cifar10/best.pth \\
        --out-dir work_dirs/shared_lag_weights
    python tools/visualization/shared_weights.py \\
        configs/cifar/densenet/densenet-bc100-shared-ordinal_b128_cifar10.py \\
        --random --out-dir work_dirs/untrained_ordinal
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import DictAction

from mmrla.cli import main_entry
from mmrla.errors import UserError

BACKBONE = 'LayerAggregationDenseNet'
X_LABELS = dict(shared_lag='Lag', shared_ordinal='Source layer')
CONFIG_FOLDER = 'configs/cifar/densenet/'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot the shared 1x1 conv weights of a DenseNet-BC with '
        'Shared-Lag or Shared-Ordinal aggregation per lag / source layer '
        '(RLA-Net Figure 3, with exponential fits and R^2) and the per-layer '
        'weights per source (DenseNet Figure 5) as PNG and JSON.')
    parser.add_argument(
        'config',
        help=f'config of a {BACKBONE} classifier, e.g. in '
        f'{CONFIG_FOLDER}')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint trained with that config (omit with --random)')
    parser.add_argument(
        '--random',
        action='store_true',
        help='plot an untrained model (the initialization of a training '
        'run) instead of a checkpoint')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='random seed of --random (default 0)')
    parser.add_argument(
        '--norm',
        choices=('mean_abs', 'l2'),
        default='mean_abs',
        help='summary of a weight matrix: average absolute weight (default, '
        "DenseNet's Figure 5) or Frobenius norm")
    parser.add_argument(
        '--overlay',
        action='store_true',
        help='draw the dense blocks as three curves in one panel (the '
        "paper's layout) instead of one panel per block")
    parser.add_argument(
        '--out-dir', default='work_dirs/shared_weights', help='output dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    args = parser.parse_args(argv)
    if args.random == bool(args.checkpoint):
        parser.error('give a checkpoint or --random (one of them): '
                     f'{"both were" if args.random else "neither was"} given.')
    return args


def exponential_fit(x: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    """Least-squares fit of ``y = a * exp(-b * x)`` and its R^2.

    For a fixed rate b the best a is linear; the residual sum of squares is
    then minimized over b (a grid, refined by golden-section search), so the
    fit is deterministic and needs no starting point. R^2 is
    ``1 - SS_res / SS_tot`` on the original scale (appendix A.2).

    Args:
        x (ndarray): Positions (lags or source layers), at least 3.
        y (ndarray): Values at ``x``.

    Returns:
        dict: ``a``, ``b`` and ``r2``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(1, 16)
        >>> fit = exponential_fit(x, 0.3 * np.exp(-0.4 * x))
        >>> round(fit['a'], 4), round(fit['b'], 4), round(fit['r2'], 6)
        (0.3, 0.4, 1.0)
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 3:
        raise ValueError('an exponential fit needs at least 3 points.')

    def solve(b):
        e = np.exp(-b * (x - x[0]))  # relative to x[0]: no overflow
        a = (e @ y) / (e @ e)
        return a, float(((y - a * e)**2).sum())

    span = max(float(x[-1] - x[0]), 1e-12)
    # Rates whose decay over the curve ranges from x1e-6 to x1e6.
    grid = np.linspace(-14 / span, 14 / span, 2801)
    sse = np.array([solve(b)[1] for b in grid])
    i = int(np.argmin(sse))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (5**0.5 - 1) / 2
    for _ in range(100):
        m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if solve(m1)[1] < solve(m2)[1]:
            hi = m2
        else:
            lo = m1
    b = (lo + hi) / 2
    a_rel, sse_best = solve(b)
    sst = float(((y - y.mean())**2).sum())
    r2 = 1.0 - sse_best / sst if sst > 0 else float(sse_best == 0)
    return dict(a=float(a_rel * np.exp(b * x[0])), b=float(b), r2=float(r2))


def _aggregation_in_checkpoint(meta: dict) -> Optional[str]:
    """The ``aggregation`` of the config the checkpoint was trained with
    (mmengine stores that config's text in ``meta['cfg']``)."""
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    found = re.findall(r"aggregation\s*=\s*['\"](\w+)['\"]", text)
    return found[-1] if found else None


def load_model(config: str,
               checkpoint: Optional[str],
               seed: int = 0,
               cfg_options: Optional[dict] = None):
    """Build the config's classifier; load ``checkpoint`` or, if None,
    initialize it as a training run does (seeded).

    Returns:
        The model, in eval mode.

    Raises:
        UserError: For a missing file, a config of another backbone, or a
            checkpoint of another model (other weights, or the other shared
            variant, which has the same weights).
    """
    from mmrla.cli import build_model_without_weights, load_config
    from mmrla.weights import check_checkpoint_exists, load_checked_checkpoint
    cfg = load_config(config, cfg_options)
    backbone = cfg.get('model', {}).get('backbone', {}).get('type')
    if backbone != BACKBONE:
        raise UserError(
            f'The backbone of {config} is {backbone}, not {BACKBONE}: use a '
            f'config of {CONFIG_FOLDER} (densenet-bc100-shared-lag, '
            '-shared-ordinal or the dense densenet-bc100).')
    if checkpoint is None:
        torch.manual_seed(seed)
        return build_model_without_weights(cfg, init_weights=True).eval()
    check_checkpoint_exists(checkpoint, config)
    model = build_model_without_weights(cfg)
    try:
        loaded = load_checked_checkpoint(
            model, checkpoint, allow_unexpected=False)
    except UserError as e:
        raise UserError(f'{e} (This config builds a {BACKBONE} with '
                        f'aggregation={model.backbone.aggregation!r}.)') from e
    trained = _aggregation_in_checkpoint(loaded.get('meta', {}))
    if trained is not None and trained != model.backbone.aggregation:
        # Shared-Lag and Shared-Ordinal have the same weights and shapes;
        # only the config saved in the checkpoint tells them apart.
        raise UserError(
            f'{checkpoint} was trained with aggregation={trained!r}, but '
            f'{config} builds aggregation={model.backbone.aggregation!r}; '
            'the same weights mean other connections there. Use the config '
            f'of {CONFIG_FOLDER} that the checkpoint was trained with.')
    return model.eval()


def summarize(backbone, norm: str) -> dict:
    """The numbers of both figures (JSON-ready)."""
    result = dict(
        aggregation=backbone.aggregation,
        norm=norm,
        layers_per_block=backbone.layers_per_block)
    tables = backbone.source_weight_norms(norm)
    # NaN (no connection) is not JSON: null.
    result['source_weights'] = [[[
        None if np.isnan(v) else float(v) for v in row
    ] for row in table.tolist()] for table in tables]
    if backbone.aggregation == 'dense':
        return result
    result['x_label'] = X_LABELS[backbone.aggregation]
    blocks = []
    for i, values in enumerate(backbone.shared_weight_norms(norm)):
        values = values.numpy()
        x = np.arange(1, len(values) + 1)
        blocks.append(
            dict(
                block=i + 1,
                x=x.tolist(),
                values=values.tolist(),
                fit=exponential_fit(x, values)))
    result['blocks'] = blocks
    return result


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_shared(result: dict,
                path: str,
                title: str,
                overlay: bool = False) -> None:
    """Figure 3: the shared weights per lag / source layer and their fits."""
    plt = _pyplot()
    blocks = result['blocks']
    panels = 1 if overlay else len(blocks)
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(4.2 * panels + 0.6 if panels > 1 else 6.4, 3.8),
        squeeze=False,
        layout='constrained')
    ylabel = ('Average absolute weight'
              if result['norm'] == 'mean_abs' else 'Frobenius norm')
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for i, block in enumerate(blocks):
        ax = axes[0, 0 if overlay else i]
        x, y, fit = np.array(block['x']), np.array(block['values']), \
            block['fit']
        color = colors[i % len(colors)]
        ax.plot(x, y, 'o-', color=color, label=f'block {block["block"]}')
        dense_x = np.linspace(x[0], x[-1], 200)
        ax.plot(
            dense_x,
            fit['a'] * np.exp(-fit['b'] * dense_x),
            '--',
            color=color,
            alpha=0.7,
            label=f'exp. fit, $R^2$={fit["r2"]:.3f}')
        if not overlay:
            ax.set_title(f'Dense block {block["block"]}', fontsize=10)
        ax.set_xlabel(result['x_label'])
        ax.set_xticks(x[::2] if len(x) > 10 else x)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_sources(result: dict, path: str, title: str) -> None:
    """DenseNet's Figure 5: norm of ``W_{t,s}`` by target and source."""
    plt = _pyplot()
    tables = [
        np.array([[np.nan if v is None else v for v in row] for row in table],
                 dtype=np.float64) for table in result['source_weights']
    ]
    fig, axes = plt.subplots(
        1,
        len(tables),
        figsize=(3.6 * len(tables) + 1.2, 3.8),
        squeeze=False,
        layout='constrained')
    # One color scale for all blocks, spanning the values drawn.
    low = np.nanmin([np.nanmin(t) for t in tables])
    top = np.nanmax([np.nanmax(t) for t in tables])
    for i, table in enumerate(tables):
        ax = axes[0, i]
        n = len(table)
        image = ax.imshow(
            np.ma.masked_invalid(table),
            cmap='viridis',
            vmin=low,
            vmax=top,
            origin='upper',
            extent=(-0.5, n - 0.5, n + 0.5, 0.5))
        ax.set_title(f'Dense block {i + 1}', fontsize=10)
        ax.set_xticks(range(0, n, 3))
        ax.set_yticks(range(1, n + 1, 3))
        ax.set_xlabel('Source layer s (0: block input)')
        ax.set_ylabel('Target layer t')
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> dict:
    """Write the figures and the JSON; returns the JSON's content."""
    model = load_model(args.config, args.checkpoint, args.seed,
                       args.cfg_options)
    backbone = model.backbone
    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        seed=args.seed if args.random else None,
        **summarize(backbone, args.norm))
    os.makedirs(args.out_dir, exist_ok=True)
    name = osp.splitext(osp.basename(args.config))[0]
    state = 'untrained, --random' if args.random else \
        osp.basename(args.checkpoint)
    files = []
    if 'blocks' in result:
        files.append('shared_weights.png')
        plot_shared(result, osp.join(args.out_dir, files[-1]),
                    f'{name} ({state}):\nshared 1x1 weights', args.overlay)
    files.append('source_weights.png')
    plot_sources(result, osp.join(args.out_dir, files[-1]),
                 f'{name} ({state}): 1x1 weights by source')
    files.append('shared_weights.json')
    with open(osp.join(args.out_dir, files[-1]), 'w') as f:
        json.dump(result, f, indent=1)
    result['files'] = files
    return result


@main_entry
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    result = run(args)
    if 'blocks' in result:
        for block in result['blocks']:
            fit = block['fit']
            print(f'block {block["block"]}: {result["x_label"].lower()} '
                  f'1..{len(block["x"])}: ' +
                  ', '.join(f'{v:.4f}' for v in block['values']) +
                  f'; exp. fit a={fit["a"]:.4f} b={fit["b"]:.4f} '
                  f'R^2={fit["r2"]:.3f}')
    else:
        print("aggregation='dense' shares no weights: only the per-source "
              'heat map (DenseNet Figure 5) is drawn.')
    print(f'Wrote {", ".join(result["files"])} to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
