# Detection plus one 28x28 mask per detection (`masks`: N, num_dets, 28,
# 28); pasting the masks into the image happens outside the graph, as in
# mmdeploy's SDK.
_base_ = ['./detection_dynamic.py']

onnx_config = dict(
    output_names=['dets', 'labels', 'masks'],
    dynamic_axes=dict(masks={
        0: 'batch',
        1: 'num_dets',
        2: 'height',
        3: 'width'
    }))
codebase_config = dict(post_processing=dict(export_postprocess_mask=False))
