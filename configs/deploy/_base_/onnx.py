# mmdeploy's ONNX export settings. mmdeploy's graph optimizer is not part of
# its PyPI wheel, so it is off (turning it on only prints a warning).
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    input_shape=None,
    optimize=False)
