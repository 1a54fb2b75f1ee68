"""Independent re-statements of the official RLANet models, for tests only.

They reproduce the module *names* of the authors' checkpoints and their
forward semantics in the simplest possible form (plain torch, no mmcv), so
that the converter can be checked end to end: weights in the official layout
-> ``convert_rlanet_state_dict`` -> mmrla model -> equal outputs.

``RefRLAResNet(detection=True)`` restates their mmdetection backbone
(``mmdetection/resnet_rla.py``): the same modules without ``bn2``/``fc``,
returning the four stage outputs. :func:`mmdet2_neck_and_heads` lists the
parameters mmdet 2.x gave the necks and heads of their COCO detectors.

Two facts of the released code matter for equal outputs:
- ResNet: the block returns its branch output ``y`` as the same tensor that
  then receives ``+= identity`` and an in-place ReLU, so the shared 1x1 conv
  sees the block *output*. MobileNetV2 adds the identity out of place, so
  there it sees the branch output.
- MobileNetV2: a single depthwise 3x3 conv object serves all five
  resolution stages (``recurrent_dsconvs.{0..4}`` hold the same tensor), and
  ``conv_outs``/``stage_bns`` follow the seven rows of the block table.

``RefRLAResNet(variant=...)`` also restates the authors' ablation models
(``models/resnet_rla_*.py``, named by their functions without ``_resnet50``)
and ``RefResNetK`` their ``resnet50_k``; see ``ABLATIONS``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class RefECA(nn.Module):

    def __init__(self, k):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)

    def forward(self, x):
        w = x.mean((2, 3)).unsqueeze(1)
        return x * self.conv(w).sigmoid().transpose(1, 2).unsqueeze(-1)


class RefSE(nn.Module):

    def __init__(self, c, r=16):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(c, c // r, bias=False), nn.ReLU(),
            nn.Linear(c // r, c, bias=False), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x.mean((2, 3)))[:, :, None, None]


class _RefBlock(nn.Module):
    """An RLA residual block: :meth:`branch` over ``cat(x, h)``, then SE,
    ECA, the shortcut, the ReLU, and the hidden state's pooling when the
    block strides.

    ``source`` picks what the stage's shared 1x1 conv reads: ``'output'``,
    the block output (the released code, see above), ``'residual'``, the
    branch after SE/ECA and before the sum (the paper's Figure 3), or
    ``'shortcut'``, the identity or its projection (ablations v5/v6).
    Without ``exchange`` the branch sees ``x`` alone; ``unshared`` gives the
    block its own RLA convs and norm (the ``rlaus`` ablation).
    """
    expansion = 1

    def __init__(self,
                 cin,
                 planes,
                 k,
                 stride,
                 eca,
                 se,
                 groups=1,
                 width=64,
                 source='output',
                 exchange=True,
                 unshared=False):
        super().__init__()
        assert source in ('output', 'residual', 'shortcut')
        cout = planes * self.expansion
        self.exchange = exchange
        # The branch first: the authors' order of the state dict.
        self.build_branch(cin + k * exchange, planes, stride, groups, width)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))
        self.se = RefSE(cout) if se else None
        self.eca = RefECA(eca) if eca else None
        self.stride = stride
        self.source = source
        if unshared:  # rlaus: the RLA convs and norm of this block alone
            self.conv_out = nn.Conv2d(cout, k, 1, bias=False)
            self.recurrent_conv = nn.Conv2d(k, k, 3, 1, 1, bias=False)
            self.bn_rla = nn.BatchNorm2d(k)

    def build_branch(self, cin, planes, stride, groups, width):
        raise NotImplementedError

    def branch(self, xh):
        raise NotImplementedError

    def forward(self, x, h):
        """Returns the output, what ``source`` names and the state pooled
        to the output's resolution (each tensor of a tuple state; None, no
        state, stays None)."""
        hidden = h[0] if isinstance(h, tuple) else h
        y = self.branch(torch.cat([x, hidden], 1) if self.exchange else x)
        if self.se is not None:
            y = self.se(y)
        if self.eca is not None:
            y = self.eca(y)
        idt = x if self.downsample is None else self.downsample(x)
        out = F.relu(y + idt)
        if self.stride != 1 and h is not None:
            h = tuple(
                F.avg_pool2d(t, 2)
                for t in h) if isinstance(h, tuple) else F.avg_pool2d(h, 2)
        return out, dict(output=out, residual=y, shortcut=idt)[self.source], h


class RefBottleneck(_RefBlock):
    expansion = 4

    def build_branch(self, cin, planes, stride, groups, width):
        mid = int(planes * width / 64) * groups
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(
            mid, mid, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)

    def branch(self, xh):
        y = F.relu(self.bn1(self.conv1(xh)))
        y = F.relu(self.bn2(self.conv2(y)))
        return self.bn3(self.conv3(y))


class RefBasicBlock(_RefBlock):
    """Two 3x3 convs, the first (strided) over ``cat(x, h)``. The authors'
    ImageNet code has no RLA basic block; the names follow torchvision's
    ``BasicBlock``, which the converter's bottleneck rules also cover."""
    expansion = 1

    def build_branch(self, cin, planes, stride, groups, width):
        assert groups == 1 and width == 64
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def branch(self, xh):
        y = F.relu(self.bn1(self.conv1(xh)))
        return self.bn2(self.conv2(y))


class RefConvLSTM(nn.Module):
    """The authors' ConvLSTMCell_layer: gates i, f, o, g from one 3x3 conv
    over cat(input, h), no bias."""

    def __init__(self, k):
        super().__init__()
        self.conv = nn.Conv2d(2 * k, 4 * k, 3, 1, 1, bias=False)

    def forward(self, z, state):
        h, c = state
        i, f, o, g = self.conv(torch.cat([z, h], 1)).split(h.shape[1], 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c


class RefConvGRU(nn.Module):
    """The authors' ConvGRUCell_layer: one-group GroupNorms (eps 1e-6) on
    the reset and update gates and on the candidate."""

    def __init__(self, k):
        super().__init__()
        self.gate_conv = nn.Conv2d(2 * k, 2 * k, 3, 1, 1)
        self.reset_gate_norm = nn.GroupNorm(1, k, 1e-6)
        self.update_gate_norm = nn.GroupNorm(1, k, 1e-6)
        self.output_conv = nn.Conv2d(2 * k, k, 3, 1, 1)
        self.output_norm = nn.GroupNorm(1, k, 1e-6)

    def forward(self, z, h):
        r, u = self.gate_conv(torch.cat([z, h], 1)).split(h.shape[1], 1)
        r = self.reset_gate_norm(r).sigmoid()
        u = self.update_gate_norm(u).sigmoid()
        y = self.output_norm(self.output_conv(torch.cat([z, r * h], 1))).tanh()
        return u * h + (1 - u) * y


# The authors' ablation models (models/resnet_rla_*.py), by function name
# without '_resnet50', and what feeds their update conv: 'rla' is the
# released model. In their default file the branch tensor y that feeds
# conv_out is then summed with the shortcut and ReLU'd in place, so conv_out
# reads the block OUTPUT; v1-v4 do the same (v3/v4 name it x), so v3 == rla
# and v4 == v2. Only the unshared file sums out of place, so there conv_out
# reads the residual branch.
ABLATIONS = dict.fromkeys(('rla', 'rlav1', 'rlav2', 'rlav3', 'rlav4', 'rlav1p',
                           'rlarh', 'rlalstm', 'rlagru'), 'output')
ABLATIONS.update(rlav5='shortcut', rlav6='shortcut', rlaus='residual')


class RefRLAResNet(nn.Module):
    """The authors' ``RLA_ResNet``. ``block`` ('bottleneck' or 'basic'),
    ``source`` (see :class:`_RefBlock`) and the widths ``stem`` and ``base``
    (64 in every released model) let tests check small variants;
    ``variant`` picks one of the authors' ablation models (``ABLATIONS``),
    ``source`` defaults to what it feeds the update conv."""

    def __init__(self,
                 layers=(3, 4, 6, 3),
                 k=32,
                 eca=None,
                 se=False,
                 groups=1,
                 width=64,
                 num_classes=1000,
                 detection=False,
                 block='bottleneck',
                 source=None,
                 stem=64,
                 base=64,
                 variant='rla'):
        super().__init__()
        block = dict(bottleneck=RefBottleneck, basic=RefBasicBlock)[block]
        source = source or ABLATIONS[variant]
        eca = eca or [None] * 4
        self.k = k
        self.detection = detection
        self.variant = variant
        unshared = variant == 'rlaus'
        recurrent = dict(
            rlalstm=RefConvLSTM, rlagru=RefConvGRU).get(
                variant, lambda k: nn.Conv2d(k, k, 3, 1, 1, bias=False))
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        cin = stem
        stages, bns, outs, recs = [], [], [], []
        for i, n in enumerate(layers):
            planes = base * 2**i
            blocks = []
            for j in range(n):
                blocks.append(
                    block(cin, planes, k, 2 if i and not j else 1, eca[i], se,
                          groups, width, source, variant != 'rlarh', unshared))
                cin = planes * block.expansion
            stages.append(nn.ModuleList(blocks))
            bns.append(nn.ModuleList(nn.BatchNorm2d(k) for _ in range(n)))
            outs.append(nn.Conv2d(cin, k, 1, bias=False))
            recs.append(recurrent(k))
        self.stages = nn.ModuleList(stages)
        if not unshared:
            self.stage_bns = nn.ModuleList(bns)
            self.conv_outs = nn.ModuleList(outs)
            self.recurrent_convs = nn.ModuleList(recs)
        # Their detection backbone drops the classifier; some ablations
        # feed h to it without a norm.
        if not detection and variant not in ('rlav1p', 'rlalstm', 'rlagru'):
            self.bn2 = nn.BatchNorm2d(k)
        if not detection:
            self.fc = nn.Linear(cin + k, num_classes)

    @staticmethod
    def _step(v, h, y, bn, co, rc):
        """One RLA update of the authors' variant ``v``; ``y`` is what the
        block's source names."""
        if v in ('rlav2', 'rlav4', 'rlav6'):  # update after the unit
            return rc(torch.tanh(bn(h))) + co(y)
        if v == 'rlav1p':  # post-activated: Conv-BN-tanh
            return torch.tanh(bn(rc(h + co(y))))
        if v in ('rlalstm', 'rlagru'):  # the update is the cell's input
            return rc(torch.tanh(bn(co(y))), h)
        return rc(torch.tanh(bn(h + co(y))))  # rla, v1, v3, v5, rh, us

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        h = x.new_zeros(x.shape[0], self.k, *x.shape[2:])
        if self.variant == 'rlalstm':
            h = (h, torch.zeros_like(h))
        outs = []
        for i, blocks in enumerate(self.stages):
            for j, block in enumerate(blocks):
                x, y, h = block(x, h)
                if self.variant == 'rlaus':
                    mods = block.bn_rla, block.conv_out, block.recurrent_conv
                else:
                    mods = (self.stage_bns[i][j], self.conv_outs[i],
                            self.recurrent_convs[i])
                # In detection, the last update's h is computed and unused.
                h = self._step(self.variant, h, y, *mods)
            outs.append(x)
        if self.detection:
            return tuple(outs)
        if self.variant == 'rlalstm':
            h = h[0]
        if self.variant == 'rlav1':
            h = torch.tanh(self.bn2(h))
        elif hasattr(self, 'bn2'):
            h = F.relu(self.bn2(h))
        x = torch.cat([x, h], 1)
        return self.fc(x.mean((2, 3)))


class RefResNetK(nn.Module):
    """The authors' resnet50_k: torchvision's ResNet-50 layout with
    ``add = k / 4`` more planes in every stage (stem unchanged)."""

    def __init__(self, layers=(3, 4, 6, 3), add=8, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for i, n in enumerate(layers):
            blocks = []
            for j in range(n):
                block = RefBottleneck(
                    cin,
                    64 * 2**i + add,
                    0,
                    2 if i and not j else 1,
                    None,
                    False,
                    exchange=False)
                blocks.append(block)
                cin = block.bn3.num_features
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(1, 5):
            for block in getattr(self, f'layer{i}'):
                x = block(x, None)[0]  # no hidden state
        return self.fc(x.mean((2, 3)))


def mmdet2_neck_and_heads(detector, classes=80, channels=256):
    """Neck and head parameters of the authors' mmdet 2.x COCO detectors.

    Their configs (``mmdetection/{faster_rcnn,mask_rcnn,retinanet}_r50rla_
    fpn.py``) use mmdet 2.x's FPN (256 channels, 5 levels; RetinaNet from
    C3 with extra convs on the input), RPNHead (3 anchors, sigmoid),
    Shared2FCBBoxHead (7x7 RoIs, 1024-d fcs, softmax over 80 + background,
    class-wise boxes), FCNMaskHead (4 convs, deconv, 80 masks) and
    RetinaHead (4 convs per branch, 9 anchors, sigmoid). mmdet 2.x names
    the parameters as below (ConvModules hold a ``conv``).

    Args:
        detector (str): ``'faster_rcnn'``, ``'mask_rcnn'`` or
            ``'retinanet'``.

    Returns:
        dict[str, tuple]: Parameter name -> shape.
    """
    c = channels
    shapes = {}

    def conv(name, cout, cin, k):
        shapes[f'{name}.weight'] = (cout, cin, k, k)
        shapes[f'{name}.bias'] = (cout, )

    def linear(name, cout, cin):
        shapes[f'{name}.weight'] = (cout, cin)
        shapes[f'{name}.bias'] = (cout, )

    inputs = (256, 512, 1024, 2048)
    if detector == 'retinanet':
        inputs = inputs[1:]  # start_level=1
    for i, cin in enumerate(inputs):
        conv(f'neck.lateral_convs.{i}.conv', c, cin, 1)
        conv(f'neck.fpn_convs.{i}.conv', c, c, 3)
    if detector == 'retinanet':
        # add_extra_convs='on_input': P6 from C5, P7 from P6.
        conv('neck.fpn_convs.3.conv', c, 2048, 3)
        conv('neck.fpn_convs.4.conv', c, c, 3)
        for branch in ('cls', 'reg'):
            for i in range(4):
                conv(f'bbox_head.{branch}_convs.{i}.conv', c, c, 3)
        conv('bbox_head.retina_cls', 9 * classes, c, 3)
        conv('bbox_head.retina_reg', 9 * 4, c, 3)
        return shapes
    conv('rpn_head.rpn_conv', c, c, 3)
    conv('rpn_head.rpn_cls', 3, c, 1)
    conv('rpn_head.rpn_reg', 3 * 4, c, 1)
    linear('roi_head.bbox_head.shared_fcs.0', 1024, c * 7 * 7)
    linear('roi_head.bbox_head.shared_fcs.1', 1024, 1024)
    linear('roi_head.bbox_head.fc_cls', classes + 1, 1024)
    linear('roi_head.bbox_head.fc_reg', 4 * classes, 1024)
    if detector == 'mask_rcnn':
        for i in range(4):
            conv(f'roi_head.mask_head.convs.{i}.conv', c, c, 3)
        # ConvTranspose2d weights are (in, out, k, k).
        conv('roi_head.mask_head.upsample', c, c, 2)
        conv('roi_head.mask_head.conv_logits', classes, c, 1)
    return shapes


def _cbr(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(
            cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU6())


class RefInvertedResidual(nn.Module):

    def __init__(self, cin, cout, stride, t, k, eca):
        super().__init__()
        hidden = int(round(cin * t))
        self.conv1x1 = _cbr(cin, hidden, 1) if t != 1 else None
        hk = hidden + k
        layers = [
            _cbr(hk, hk, 3, stride, hk),
            nn.Conv2d(hk, cout, 1, bias=False),
            nn.BatchNorm2d(cout)
        ]
        if eca:
            layers.append(RefECA(eca))
        self.conv = nn.Sequential(*layers)
        self.stride = stride
        self.res = stride == 1 and cin == cout

    def forward(self, x, h):
        e = self.conv1x1(x) if self.conv1x1 is not None else x
        y = self.conv(torch.cat([e, h], 1))
        out = x + y if self.res else y
        if self.stride != 1:
            h = F.avg_pool2d(h, 2)
        return out, y, h


class RefRLAMobileNetV2(nn.Module):
    SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
               [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, k=32, eca=False, num_classes=1000):
        super().__init__()
        self.k = k
        self.conv1 = _cbr(3, 32, 3, 2)
        cin = 32
        stages, bns, outs = [], [], []
        self.new_stage = []
        for row, (t, c, n, s) in enumerate(self.SETTING):
            self.new_stage.append(row == 0 or s == 2)
            ek = (1 if c < 96 else 3) if eca else None
            blocks = []
            for j in range(n):
                blocks.append(
                    RefInvertedResidual(cin, c, s if j == 0 else 1, t, k, ek))
                cin = c
            stages.append(nn.ModuleList(blocks))
            bns.append(nn.ModuleList(nn.BatchNorm2d(k) for _ in range(n)))
            outs.append(nn.Conv2d(c, k, 1, bias=False))
        self.stages = nn.ModuleList(stages)
        self.stage_bns = nn.ModuleList(bns)
        self.conv_outs = nn.ModuleList(outs)
        shared = nn.Conv2d(k, k, 3, 1, 1, groups=k, bias=False)
        self.recurrent_dsconvs = nn.ModuleList([shared] * 5)
        self.conv2 = _cbr(cin + k, 1280, 1)
        self.bn2 = nn.BatchNorm2d(k)
        self.classifier = nn.Sequential(
            nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = self.conv1(x)
        h = x.new_zeros(x.shape[0], self.k, *x.shape[2:])
        s = -1
        for row, (blocks, bns, co) in enumerate(
                zip(self.stages, self.stage_bns, self.conv_outs)):
            s += self.new_stage[row]
            rc = self.recurrent_dsconvs[s]
            for block, bn in zip(blocks, bns):
                x, y, h = block(x, h)
                h = rc(torch.tanh(bn(h + co(y))))
        x = torch.cat([x, F.relu6(self.bn2(h))], 1)
        x = self.conv2(x)
        return self.classifier(x.mean((2, 3)))


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and BN statistic distinct random values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith('running_var'):
                    t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
                elif name.endswith('weight') and t.dim() == 1:
                    t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
                elif t.dim() > 1:
                    # Fan-in scaling keeps activations O(1) through depth.
                    fan_in = t[0].numel()
                    t.copy_(torch.randn(t.shape, generator=gen) / fan_in**0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
    return model
