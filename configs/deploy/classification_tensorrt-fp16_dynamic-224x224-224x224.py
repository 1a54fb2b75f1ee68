# Classifiers to a TensorRT fp16 engine at 224x224, batch 1 to 8
# (untested: needs an NVIDIA GPU).
_base_ = ['./_base_/classification_dynamic.py', './_base_/tensorrt-fp16.py']

onnx_config = dict(input_shape=[224, 224])
backend_config = dict(model_inputs=[
    dict(
        input_shapes=dict(
            input=dict(
                min_shape=[1, 3, 224, 224],
                opt_shape=[4, 3, 224, 224],
                max_shape=[8, 3, 224, 224])))
])
