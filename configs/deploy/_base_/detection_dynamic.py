# The whole detector in one graph: backbone, neck, heads, box decoding and
# NMS. Images of any size and batch; `dets` is (N, num_dets, 5) with the
# score last, `labels` (N, num_dets).
_base_ = ['./onnx.py']

onnx_config = dict(
    output_names=['dets', 'labels'],
    dynamic_axes=dict(
        input={
            0: 'batch',
            2: 'height',
            3: 'width'
        },
        dets={
            0: 'batch',
            1: 'num_dets'
        },
        labels={
            0: 'batch',
            1: 'num_dets'
        }))
# The NMS in the graph. A two-stage detector's RoI head and a one-stage
# detector's head take their score threshold, IoU threshold and detections
# per image from the model config's test_cfg; these are the fallbacks and
# the limits mmdeploy adds (candidates before NMS, boxes per class).
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1))
