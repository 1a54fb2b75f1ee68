# The whole classifier: images of any size and batch to class scores
# (`output`: N, num_classes, after softmax).
_base_ = ['./onnx.py']

onnx_config = dict(
    dynamic_axes=dict(
        input={
            0: 'batch',
            2: 'height',
            3: 'width'
        }, output={0: 'batch'}))
codebase_config = dict(type='mmpretrain', task='Classification')
