"""Detect objects in an image or a folder of images with an RLA detector.

Runs mmdet's ``DetInferencer`` on one of the detection configs and a trained
checkpoint, and saves the drawn detections to ``OUT_DIR/vis/``, the raw
predictions (labels, their class names and, for a model trained on
COCO-format data, the file's category ids, scores, boxes, RLE masks) to
``OUT_DIR/preds/*.json``, and all of them in COCO's results format to
``OUT_DIR/coco_results.json``. The config may be the one the model was
trained with, own-data configs included: the classes, and the heads' size,
come from the checkpoint.

Examples:
    python demo/det_demo.py demo.jpg \
        configs/faster_rcnn_r50rla_fpn_1x_coco.py \
        work_dirs/faster_rcnn_r50rla_fpn_1x_coco/epoch_12.pth
    python demo/det_demo.py demo.jpg faster-rcnn_rla-resnet50_fpn_1x_coco \
        checkpoints/faster_rcnn_r50rla_fpn_1x_coco.pth
    python demo/det_demo.py images/ configs/mask_rcnn_r50rla_fpn_1x_coco.py \
        epoch_12.pth --out-dir outputs --pred-score-thr 0.5
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import DictAction

from mmrla.cli import main_entry
from mmrla.errors import UserError

# The image suffixes DetInferencer reads from a folder.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the detections of an RLA detector')
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument(
        'config',
        help='detection config, e.g. '
        'configs/faster_rcnn_r50rla_fpn_1x_coco.py, or its model name in '
        'metafile.yml, e.g. faster-rcnn_rla-resnet50_fpn_1x_coco')
    parser.add_argument(
        'checkpoint',
        help='detector checkpoint: trained with tools/train.py or converted '
        'from the authors\' release with '
        'tools/model_converters/rlanet_to_mmrla.py')
    parser.add_argument(
        '--out-dir',
        default='outputs',
        help='folder for vis/ (drawn images) and preds/ (json)')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--pred-score-thr',
        type=float,
        default=0.3,
        help='draw only detections scoring at least this')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='images per forward')
    parser.add_argument(
        '--palette',
        default='none',
        choices=['coco', 'voc', 'citys', 'random', 'none'],
        help='box colors; "none" uses the checkpoint\'s dataset palette')
    parser.add_argument(
        '--no-save-pred',
        action='store_true',
        help='do not write the predictions as json')
    parser.add_argument(
        '--show', action='store_true', help='also show each drawn image')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'test_dataloader.dataset.pipeline.1.scale="(666,400)"')
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Refuse a missing input, a folder without images, or a bad option.

    Raises:
        UserError: Naming the bad argument.
    """
    if not osp.exists(args.inputs):
        raise UserError(f'input {args.inputs} does not exist.')
    if osp.isdir(args.inputs) and not any(name.lower().endswith(IMG_EXTENSIONS)
                                          for name in os.listdir(args.inputs)):
        raise UserError(f'folder {args.inputs} holds no image '
                        f'({", ".join(IMG_EXTENSIONS)}).')
    if not 0 <= args.pred_score_thr <= 1:
        raise UserError(f'--pred-score-thr must be in [0, 1], got '
                        f'{args.pred_score_thr}.')
    if args.batch_size < 1:
        raise UserError(
            f'--batch-size must be positive, got {args.batch_size}.')


@main_entry
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_args(args)
    # The inference libraries load after the argument checks; mmrla (above)
    # before mmdet.apis keeps torch's TorchScript notice out of the output
    # (mmrla/_startup.py).
    from mmrla.apis import model_config_path
    from mmrla.cli import check_model_config, load_config
    from mmrla.cli.trained_classes import use_trained_classes
    from mmrla.weights import check_checkpoint, check_checkpoint_exists
    try:
        # A .py path is a config file (load_config explains a missing one);
        # anything else may be a model name.
        config = args.config if args.config.endswith('.py') or \
            osp.isfile(args.config) else model_config_path(args.config)
    except ValueError as e:
        raise UserError(str(e)) from e
    from mmdet.apis import DetInferencer

    # The config (with its custom_imports of mmrla.models) is loaded here so
    # that --cfg-options can change it before the model is built.
    cfg = load_config(config, args.cfg_options)
    check_checkpoint_exists(args.checkpoint, config)
    # An own-data config keeps the recipe's num_classes; the checkpoint
    # knows its classes.
    use_trained_classes(cfg, args.checkpoint, config)
    # Checked before the inferencer loads it: mmengine would list every key
    # of a wrong file, then draw random detections.
    check_checkpoint(
        check_model_config(cfg, config),
        args.checkpoint,
        allow_unexpected=False)
    # The inferencer draws into out_dir itself; the config's LocalVisBackend
    # has no save_dir here, and mmengine would warn that it cannot add it.
    if 'visualizer' in cfg:
        cfg.visualizer.vis_backends = []
    inferencer = DetInferencer(
        model=cfg,
        weights=args.checkpoint,
        device=args.device,
        palette=args.palette,
        show_progress=False)
    images = list_images(args.inputs)
    result = inferencer(
        images,
        batch_size=args.batch_size,
        show=args.show,
        pred_score_thr=args.pred_score_thr,
        out_dir=args.out_dir,
        no_save_pred=True)
    print(f'drawn detections saved to {osp.join(args.out_dir, "vis")}')
    if not args.no_save_pred:
        save_predictions(cfg, inferencer.model.dataset_meta or {}, images,
                         result['predictions'], args.out_dir)
        print(f'predictions saved to {osp.join(args.out_dir, "preds")} '
              f'and {osp.join(args.out_dir, "coco_results.json")}')
    return 0


def list_images(inputs: str) -> List[str]:
    """The image files of ``inputs`` (a file, or a folder's images,
    sorted)."""
    if not osp.isdir(inputs):
        return [inputs]
    return sorted(
        osp.join(inputs, name) for name in os.listdir(inputs)
        if name.lower().endswith(IMG_EXTENSIONS))


def save_predictions(cfg, dataset_meta: dict, images: List[str],
                     predictions: List[dict], out_dir: str) -> None:
    """Write ``preds/<image>.json`` (as DetInferencer names them) with
    class names and category ids, and ``coco_results.json``."""
    from mmrla.apis.det_predictions import (coco_results, image_ids_of,
                                            named_prediction)
    from mmrla.datasets.dataset_cfg import join_root
    classes = dataset_meta.get('classes')
    category_ids = dataset_meta.get('category_ids')
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    ann_file = dataset.get('ann_file')
    ids = image_ids_of(
        join_root(dataset.get('data_root') or '', ann_file
                  ) if isinstance(ann_file, str) else None)
    os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
    results = []
    for image, prediction in zip(images, predictions):
        stem = osp.splitext(osp.basename(image))[0]
        with open(osp.join(out_dir, 'preds', f'{stem}.json'), 'w') as f:
            json.dump(
                named_prediction(prediction, classes, category_ids),
                f,
                indent=2)
        results += coco_results(prediction, image,
                                ids.get(osp.basename(image)), category_ids,
                                classes)
    with open(osp.join(out_dir, 'coco_results.json'), 'w') as f:
        json.dump(results, f)


if __name__ == '__main__':
    sys.exit(main())
