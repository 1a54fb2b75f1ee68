"""Deploy a trained mmrla detector or classifier with mmdeploy, whole, and
check the deployed model against PyTorch.

Examples:
    python tools/deployment/deploy.py \
        configs/demo/mask_rcnn_r18rla_fpn_shapes.py \
        work_dirs/demo/epoch_12.pth data/shapes/val/000000.png \
        --backend onnxruntime --work-dir work_dirs/demo/onnx
    python tools/deployment/deploy.py configs/r50rla_4xb64_in1k.py \
        rla_r50.pth demo.jpg --work-dir work_dirs/r50rla_onnx

Follows mmdeploy's ``tools/deploy.py`` (``deploy_cfg model_cfg checkpoint
img``), with the deploy config picked from the model config's task
(``configs/deploy/{task}_{backend}_dynamic.py``; ``--deploy-cfg`` names
another). It writes, in ``--work-dir``:

- ``end2end.onnx``: the whole model in one graph (for a detector: backbone,
  neck, heads, box decoding and NMS), and the backend's files if the
  backend converts it further (TensorRT's ``end2end.engine``);
- mmdeploy's SDK metadata: ``deploy.json``, ``pipeline.json`` and
  ``detail.json``.

The RLA backbone is exported after ``switch_to_deploy()`` (as mmdeploy's
own model builder does), while the PyTorch reference is the model as
trained, so the comparison checks the inference transform too.

It then runs the backend and PyTorch on ``IMAGE`` (and ``--test-img``) and
prints the comparison. Detections (score >= ``--score-thr`` on either side)
are matched in score order to a detection of the same label by box IoU;
the tool exits with status 1 unless every one has a match with IoU >=
``--iou-thr``, score difference <= ``--score-atol`` and, for masks, mask
IoU >= ``--mask-iou-thr``. Classifiers: the backend's top-k classes must be
PyTorch's (two classes whose PyTorch scores are within ``--score-atol``
may swap) and every class score within ``--score-atol``.
"""
import argparse
import copy
import glob
import logging
import os
import os.path as osp
import sys
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger

from mmrla.apis.deploy import (BACKENDS, deploy_config_path, export_end2end,
                               import_mmdeploy, model_task)
from mmrla.cli import build_model_without_weights, load_config, main_entry
from mmrla.errors import UserError
from mmrla.weights import (check_checkpoint_exists, check_converted,
                           load_checked_checkpoint)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Deploy an mmrla detector or classifier whole with '
        'mmdeploy, then compare the backend\'s results with PyTorch\'s.')
    parser.add_argument('config', help='the model config')
    parser.add_argument('checkpoint', help='the trained checkpoint')
    parser.add_argument(
        'img', help='image the export traces and the comparison runs on')
    parser.add_argument(
        '--test-img',
        nargs='+',
        default=[],
        help='more images (or folders of images) to compare on')
    parser.add_argument(
        '--backend',
        default='onnxruntime',
        choices=BACKENDS,
        help='%(default)s')
    parser.add_argument(
        '--deploy-cfg',
        help='mmdeploy deploy config; default: configs/deploy/'
        '{detection,instance-seg,classification}_BACKEND_... by the '
        'model\'s task')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/deploy',
        help='where the model and the SDK files go (default: %(default)s)')
    parser.add_argument(
        '--device',
        default='cpu',
        help='device of the export and the comparison (TensorRT: cuda)')
    parser.add_argument(
        '--no-switch-to-deploy',
        action='store_true',
        help='export the backbone as trained, without switch_to_deploy()')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='detections compared: score at least this on either side')
    parser.add_argument(
        '--iou-thr',
        type=float,
        default=0.99,
        help='box IoU a matched detection must reach')
    parser.add_argument(
        '--mask-iou-thr',
        type=float,
        default=0.95,
        help='mask IoU a matched detection must reach (instance masks)')
    parser.add_argument(
        '--score-atol',
        type=float,
        default=1e-3,
        help='largest score difference allowed (detections and class '
        'scores)')
    parser.add_argument(
        '--topk', type=int, default=5, help='classes compared (classifiers)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override model config settings, e.g. '
        'model.test_cfg.rcnn.score_thr=0.3')
    return parser.parse_args(argv)


def load_deploy_cfg(path: str, backend: str, task: str) -> Config:
    """The deploy config, checked to be for ``backend`` and the model's
    ``task`` (:func:`~mmrla.apis.deploy.model_task`)."""
    cfg = load_config(path)
    for key in ('onnx_config', 'codebase_config', 'backend_config'):
        if key not in cfg:
            raise UserError(f'{path} is not an mmdeploy deploy config: it '
                            f'has no {key} (see configs/deploy/).')
    if cfg.backend_config.get('type') != backend:
        raise UserError(
            f'{path} is a {cfg.backend_config.get("type")} deploy config, '
            f'not {backend}: pass --backend '
            f'{cfg.backend_config.get("type")} or another --deploy-cfg.')
    codebase = 'mmpretrain' if task == 'classification' else 'mmdet'
    if cfg.codebase_config.get('type') != codebase:
        raise UserError(
            f'{path} deploys {cfg.codebase_config.get("type")} models, and '
            f'the model config is an {codebase} {task} model: leave '
            '--deploy-cfg out or name one of its task (configs/deploy/).')
    return cfg


def with_test_pipeline(cfg: Config) -> Config:
    """``cfg`` with ``test_pipeline`` set to the test dataloader's, which
    mmdeploy reads: what tools/test.py and mmdet's inferencer run, with
    every ``--cfg-options`` override of it."""
    cfg = copy.deepcopy(cfg)
    loader = cfg.get('test_dataloader')
    if loader is not None and 'pipeline' in loader.get('dataset', {}):
        cfg.test_pipeline = copy.deepcopy(loader.dataset.pipeline)
    if 'test_pipeline' not in cfg:
        raise UserError('the config has no test pipeline (test_dataloader.'
                        'dataset.pipeline or test_pipeline) to read images '
                        'with.')
    return cfg


def find_images(paths: Sequence[str]) -> List[str]:
    """Image files of ``paths`` (files, or folders searched for images)."""
    images = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(
                p for p in glob.glob(osp.join(path, '*'))
                if p.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise UserError(f'no image ({", ".join(IMAGE_EXTENSIONS)}) '
                                f'in the folder {path}.')
            images += found
        elif osp.isfile(path):
            import mmcv
            if mmcv.imread(path) is None:
                raise UserError(f'{path} is not an image OpenCV can read.')
            images.append(path)
        else:
            raise UserError(f'image {path} does not exist.')
    return list(dict.fromkeys(images))  # each image once, in order


def build_checked_model(cfg: Config, config: str,
                        checkpoint: str) -> nn.Module:
    """The model of ``cfg`` with every weight from ``checkpoint``, in eval
    mode; one line for a missing, unconverted or mismatched file."""
    check_checkpoint_exists(checkpoint, config)
    check_converted(checkpoint)
    cfg = copy.deepcopy(cfg)
    if cfg.get('data_preprocessor') is not None:
        # As mmengine's runner and mmpretrain's get_model build it: an
        # mmpretrain config gives the normalization at the top level.
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = build_model_without_weights(cfg)
    load_checked_checkpoint(model, checkpoint, allow_unexpected=False)
    return model.eval()


def deployed_copy(model: nn.Module, switch: bool) -> nn.Module:
    """The model that is exported: a copy whose backbone is switched to its
    inference form when it has one (``switch``)."""
    model = copy.deepcopy(model)
    backbone = getattr(model, 'backbone', None)
    if switch and hasattr(backbone, 'switch_to_deploy'):
        backbone.switch_to_deploy()
    return model.eval()


def export_onnx(task_processor, model: nn.Module, image: str,
                deploy_cfg: Config, work_dir: str) -> str:
    """Export ``model`` traced on ``image`` (through the config's test
    pipeline and the model's data preprocessor); returns the ``.onnx``
    path."""
    from mmdeploy.utils import get_input_shape, get_onnx_config
    data, inputs = task_processor.create_input(
        image,
        get_input_shape(deploy_cfg),
        data_preprocessor=model.data_preprocessor)
    if isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    name = osp.splitext(get_onnx_config(deploy_cfg)['save_file'])[0]
    return export_end2end(model, inputs, data['data_samples'], deploy_cfg,
                          osp.join(work_dir, name))


def predict(model: nn.Module, task_processor, image: str):
    """``model.test_step`` on ``image`` through the config's test pipeline:
    one data sample."""
    data, _ = task_processor.create_input(image, None)
    with torch.no_grad():
        sample, = model.test_step(data)
    return sample


def match_detections(ref, out, score_thr: float) -> Dict[str, object]:
    """Match ``out``'s detections (InstanceData) to ``ref``'s.

    Each detection with score >= ``score_thr`` on either side, in the order
    of its score, takes the unmatched detection of the same label on the
    other side with the highest box IoU.

    Returns:
        dict: ``compared`` (detections at the threshold on each side:
        ``(ref, out)``), ``pairs`` (list of ``(i, j, iou)``, indices into
        ``ref`` and ``out``) and ``unmatched`` (detections at the threshold
        with no partner of their label).
    """
    from mmdet.structures.bbox import bbox_overlaps
    iou = bbox_overlaps(ref.bboxes.float(), out.bboxes.float())
    same = ref.labels[:, None] == out.labels[None]
    iou = torch.where(same, iou, torch.full_like(iou, -1))
    used_ref, used_out, pairs, unmatched = set(), set(), [], 0
    # Every detection at the threshold, highest score first; each side
    # looks for a partner among the other side's unmatched detections.
    queue = [(float(s), 0, i) for i, s in enumerate(ref.scores)
             if s >= score_thr]
    queue += [(float(s), 1, j) for j, s in enumerate(out.scores)
              if s >= score_thr]
    for _, side, k in sorted(queue, reverse=True):
        if k in (used_ref if side == 0 else used_out):
            continue
        row = iou[k] if side == 0 else iou[:, k]
        taken = used_out if side == 0 else used_ref
        candidates = [(float(v), m) for m, v in enumerate(row)
                      if m not in taken and v >= 0]
        if not candidates:
            unmatched += 1
            continue
        best, m = max(candidates)
        i, j = (k, m) if side == 0 else (m, k)
        used_ref.add(i)
        used_out.add(j)
        pairs.append((i, j, best))
    compared = tuple(
        int((side.scores >= score_thr).sum()) for side in (ref, out))
    return dict(compared=compared, pairs=pairs, unmatched=unmatched)


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.bool(), b.bool()
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union


def compare_detections(ref, out, args) -> Dict[str, object]:
    """Match and measure two detectors' results on one image."""
    match = match_detections(ref, out, args.score_thr)
    pairs = match['pairs']
    box_diffs = [
        float((ref.bboxes[i].float() - out.bboxes[j].float()).abs().max())
        for i, j, _ in pairs
    ]
    score_diffs = [
        abs(float(ref.scores[i]) - float(out.scores[j])) for i, j, _ in pairs
    ]
    result = dict(
        compared=match['compared'],
        matched=len(pairs),
        unmatched=match['unmatched'],
        min_iou=min((p[2] for p in pairs), default=1.0),
        box_diff=max(box_diffs, default=0.0),
        score_diff=max(score_diffs, default=0.0))
    if 'masks' in ref and 'masks' in out:
        mask_ious = [
            mask_iou(
                torch.as_tensor(ref.masks[i]), torch.as_tensor(out.masks[j]))
            for i, j, _ in pairs
        ]
        result['min_mask_iou'] = min(mask_ious, default=1.0)
    result['ok'] = (
        result['unmatched'] == 0 and result['min_iou'] >= args.iou_thr
        and result['score_diff'] <= args.score_atol
        and result.get('min_mask_iou', 1.0) >= args.mask_iou_thr)
    return result


def compare_classes(ref, out, args) -> Dict[str, object]:
    """Top-k classes and class scores of two classifiers on one image."""
    ref_scores = ref.pred_score.float()
    out_scores = out.pred_score.float()
    k = min(args.topk, ref_scores.numel())
    ref_top = ref_scores.topk(k)
    out_top = out_scores.topk(k).indices
    # Rank r holds a class whose reference score is the r-th best, up to
    # the tolerance (near-ties may swap).
    ranks_ok = all(
        abs(float(ref_scores[c]) - float(ref_top.values[r])) <= args.score_atol
        for r, c in enumerate(out_top))
    diff = float((ref_scores - out_scores).abs().max())
    return dict(
        topk=k,
        ref_top=ref_top.indices.tolist(),
        out_top=out_top.tolist(),
        score_diff=diff,
        ok=ranks_ok and diff <= args.score_atol)


def report_detections(name: str, backend: str, r: dict, args) -> str:
    line = (f'{name}: detections with score >= {args.score_thr:g}: PyTorch '
            f'{r["compared"][0]}, {backend} {r["compared"][1]}; matched '
            f'{r["matched"]}, unmatched {r["unmatched"]}; lowest box IoU '
            f'{r["min_iou"]:.4f}, largest box difference '
            f'{r["box_diff"]:.3g} px, largest score difference '
            f'{r["score_diff"]:.2g}')
    if 'min_mask_iou' in r:
        line += f', lowest mask IoU {r["min_mask_iou"]:.4f}'
    return line + (': ok' if r['ok'] else ': MISMATCH')


def report_classes(name: str, backend: str, r: dict) -> str:
    return (f'{name}: top-{r["topk"]} classes PyTorch {r["ref_top"]}, '
            f'{backend} {r["out_top"]}; largest class score difference '
            f'{r["score_diff"]:.2g}: {"ok" if r["ok"] else "MISMATCH"}')


def tolerance(task: str, args) -> str:
    if task == 'classification':
        return (f'the same top-{args.topk} classes (PyTorch scores within '
                f'{args.score_atol:g} may swap) and every class score '
                f'within {args.score_atol:g}')
    masks = (f', mask IoU >= {args.mask_iou_thr:g}'
             if task == 'instance-seg' else '')
    return (f'every detection with score >= {args.score_thr:g} matched to '
            f'one of the same label with box IoU >= {args.iou_thr:g}, score '
            f'within {args.score_atol:g}{masks}')


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    import_mmdeploy()
    from mmdeploy.apis import build_task_processor
    from mmdeploy.apis.utils import to_backend
    from mmdeploy.backend.sdk.export_info import export2SDK
    from mmdeploy.utils import get_backend, get_root_logger

    # mmdeploy's progress lines and mmengine's notes about registry scopes
    # while mmdeploy builds its wrappers; errors still show.
    get_root_logger().setLevel(logging.ERROR)
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    cfg = with_test_pipeline(load_config(args.config, args.cfg_options))
    task = model_task(cfg)
    deploy_cfg_path = args.deploy_cfg or deploy_config_path(task, args.backend)
    deploy_cfg = load_deploy_cfg(deploy_cfg_path, args.backend, task)
    images = find_images([args.img] + args.test_img)
    model = build_checked_model(cfg, args.config, args.checkpoint)
    os.makedirs(args.work_dir, exist_ok=True)

    task_processor = build_task_processor(cfg, deploy_cfg, args.device)
    model = model.to(args.device)
    exported = deployed_copy(model, not args.no_switch_to_deploy)
    onnx_file = export_onnx(task_processor, exported, args.img, deploy_cfg,
                            args.work_dir)
    del exported
    switched = not args.no_switch_to_deploy and hasattr(
        getattr(model, 'backbone', None), 'switch_to_deploy')
    how = ' with the backbone after switch_to_deploy()' if switched else ''
    print(f'exported {args.config} ({task}) to {onnx_file}{how} '
          f'({osp.relpath(deploy_cfg_path)})')
    # export2SDK edits the configs it is given (it pops the head's type).
    export2SDK(
        copy.deepcopy(deploy_cfg),
        copy.deepcopy(cfg),
        args.work_dir,
        pth=args.checkpoint,
        device=args.device)
    print(f'wrote mmdeploy\'s SDK files deploy.json, pipeline.json and '
          f'detail.json to {args.work_dir}')
    backend = get_backend(deploy_cfg)
    backend_files = to_backend(
        backend.value, [onnx_file],
        work_dir=args.work_dir,
        deploy_cfg=deploy_cfg,
        device=args.device)
    backend_model = task_processor.build_backend_model(backend_files)

    print(f'{args.backend} vs PyTorch (tolerance: {tolerance(task, args)}):')
    ok = True
    for image in images:
        ref = predict(model, task_processor, image)
        out = predict(backend_model, task_processor, image)
        name = osp.relpath(image)
        if task == 'classification':
            result = compare_classes(ref, out, args)
            print(report_classes(name, args.backend, result))
        else:
            result = compare_detections(ref.pred_instances, out.pred_instances,
                                        args)
            print(report_detections(name, args.backend, result, args))
        ok = ok and result['ok']
    if not ok:
        print(
            f'error: {args.backend}\'s results differ from PyTorch\'s '
            'beyond the tolerance.',
            file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
