# A TensorRT fp16 engine for images from 320x320 to 1344x1344, batch 1
# (untested: needs an NVIDIA GPU).
_base_ = ['./tensorrt-fp16.py']

backend_config = dict(model_inputs=[
    dict(
        input_shapes=dict(
            input=dict(
                min_shape=[1, 3, 320, 320],
                opt_shape=[1, 3, 800, 1344],
                max_shape=[1, 3, 1344, 1344])))
])
