"""mmdeploy rewriters that keep the exported graph's results mmdet's.

Imported by :func:`mmrla.apis.deploy.export_end2end` (it needs mmdeploy);
they apply to the ONNX Runtime backend.

mmdeploy 1.3.1 approximates two steps of a two-stage detector:

- the RPN: one NMS over the boxes of all FPN levels, and proposals scoring
  below the deploy config's ``score_threshold`` dropped; mmdet runs one NMS
  per level and keeps every score;
- the RoI head (class-specific regression): every class of a RoI takes the
  box regressed for its best class; mmdet gives each class its own box.

Either changes the detections of a briefly trained model (boxes off by
pixels to tens of pixels). These rewriters export mmdet's forms, with
``batched_nms``'s device: the boxes of each level (class) are shifted apart
by the level (class) times the largest coordinate plus one, so that one
NMS never compares boxes of two levels (classes), and shifted back.
"""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmdeploy.codebase.mmdet.deploy import gather_topk
from mmdeploy.core import FUNCTION_REWRITER
from mmdeploy.mmcv.ops import multiclass_nms
from mmdet.structures.bbox import get_box_tensor
from mmengine import ConfigDict
from torch import Tensor


def batched_nms(boxes: Tensor,
                scores: Tensor,
                idxs: Tensor,
                iou_threshold: float,
                score_threshold: float,
                keep_top_k: int,
                nms_type: str = 'nms'):
    """NMS within each group ``idxs`` (N, K) of ``boxes`` (N, K, 4) and
    ``scores`` (N, K, 1), the best ``keep_top_k`` over all groups.

    Returns:
        tuple[Tensor, Tensor]: ``dets`` (N, keep_top_k, 5), box and score,
        and their groups (N, keep_top_k).
    """
    step = boxes.max() + 1
    dets, _ = multiclass_nms(
        boxes + (idxs * step).unsqueeze(-1),
        scores,
        keep_top_k,
        nms_type=nms_type,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        pre_top_k=-1,
        keep_top_k=keep_top_k)
    # Each kept box's group, from its shifted x1; the shift removed.
    group = torch.floor(dets[..., :1] / step)
    boxes = dets[..., :4] - group * step
    return torch.cat([boxes, dets[..., 4:]], dim=-1), group[..., 0].long()


@FUNCTION_REWRITER.register_rewriter(
    func_name='mmdet.models.dense_heads.rpn_head.RPNHead.predict_by_feat',
    backend='onnxruntime')
def rpn_head__predict_by_feat__per_level_nms(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        score_factors: Optional[List[Tensor]] = None,
        batch_img_metas: Optional[List[dict]] = None,
        cfg: Optional[ConfigDict] = None,
        rescale: bool = False,
        with_nms: bool = True,
        **kwargs):
    """Proposals as mmdet's ``RPNHead`` computes them: the top ``nms_pre``
    anchors of each level, decoded, NMS per level, the best
    ``max_per_img``.

    Returns:
        tuple[Tensor, Tensor]: ``dets`` (N, K, 5), box and score, and
        ``labels`` (N, K), all 0.
    """
    cfg = self.test_cfg if cfg is None else cfg
    img_shape = batch_img_metas[0]['img_shape']
    featmap_sizes = [score.shape[-2:] for score in cls_scores]
    anchors = self.anchor_generator.grid_anchors(
        featmap_sizes, device=cls_scores[0].device)
    batch = cls_scores[0].shape[0]
    pre_topk = cfg.get('nms_pre', -1)
    mlvl_boxes, mlvl_scores, mlvl_levels = [], [], []
    for level, (score, delta,
                anchor) in enumerate(zip(cls_scores, bbox_preds, anchors)):
        score = score.permute(0, 2, 3, 1)
        if self.use_sigmoid_cls:
            score = score.reshape(batch, -1).sigmoid()
        else:
            score = score.reshape(batch, -1, 2).softmax(-1)[..., 0]
        delta = delta.permute(0, 2, 3, 1).reshape(batch, -1,
                                                  self.bbox_coder.encode_size)
        anchor = anchor.unsqueeze(0)
        if 0 < pre_topk < score.shape[1]:
            _, inds = score.topk(pre_topk)
            delta, score = gather_topk(
                delta,
                score.unsqueeze(-1),
                inds=inds,
                batch_size=batch,
                is_batched=True)
            score = score.squeeze(-1)
            anchor = gather_topk(
                anchor, inds=inds, batch_size=batch, is_batched=False)
        mlvl_boxes.append(
            self.bbox_coder.decode(anchor, delta, max_shape=img_shape))
        mlvl_scores.append(score)
        mlvl_levels.append(torch.full_like(score, level))
    boxes = torch.cat(mlvl_boxes, dim=1)
    scores = torch.cat(mlvl_scores, dim=1).unsqueeze(-1)
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        # mmdet drops boxes not wider and taller than min_bbox_size.
        wh = boxes[..., 2:] - boxes[..., :2]
        small = (wh <= min_size).any(-1, keepdim=True)
        scores = torch.where(small, scores.new_tensor(-1.), scores)
    if not with_nms:
        return boxes, scores
    dets, _ = batched_nms(
        boxes,
        scores,
        torch.cat(mlvl_levels, dim=1),
        iou_threshold=cfg.nms.get('iou_threshold', 0.7),
        score_threshold=0.0,
        keep_top_k=cfg.get('max_per_img', 1000),
        nms_type=cfg.nms.get('type'))
    return dets, torch.zeros_like(dets[..., 0], dtype=torch.long)


@FUNCTION_REWRITER.register_rewriter(
    func_name='mmdet.models.roi_heads.bbox_heads.bbox_head.BBoxHead.'
    'predict_by_feat',
    backend='onnxruntime')
def bbox_head__predict_by_feat__per_class_boxes(
        self,
        rois: Tensor,
        cls_scores: Tensor,
        bbox_preds: Tensor,
        batch_img_metas: List[dict],
        rcnn_test_cfg: Optional[ConfigDict] = None,
        rescale: bool = False):
    """Detections as mmdet's ``BBoxHead`` computes them: each class
    with its own regressed box, NMS per class, the best ``max_per_img``.

    Returns:
        tuple[Tensor, Tensor]: ``dets`` (N, K, 5) and ``labels`` (N, K).
    """
    if self.custom_cls_channels:
        scores = self.loss_cls.get_activation(cls_scores)
    else:
        scores = F.softmax(cls_scores, dim=-1)
    scores = scores[..., :self.num_classes]
    batch, num_rois, num_classes = scores.shape
    boxes = get_box_tensor(
        self.bbox_coder.decode(
            rois[..., 1:],
            bbox_preds,
            max_shape=batch_img_metas[0]['img_shape']))
    if self.reg_class_agnostic:
        boxes = boxes.unsqueeze(2).expand(batch, num_rois, num_classes, 4)
    boxes = boxes.reshape(batch, num_rois * num_classes, 4)
    labels = torch.arange(
        num_classes, device=scores.device).repeat(batch, num_rois)
    return batched_nms(
        boxes,
        scores.reshape(batch, num_rois * num_classes, 1),
        labels,
        iou_threshold=rcnn_test_cfg.nms.get('iou_threshold', 0.5),
        score_threshold=rcnn_test_cfg.get('score_thr', 0.05),
        keep_top_k=rcnn_test_cfg.get('max_per_img', 100),
        nms_type=rcnn_test_cfg.nms.get('type'))
