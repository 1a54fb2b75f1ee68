import torch
import torch.nn as nn

from tools.analysis_tools.dynamo_explain import explain, main


class _Broken(nn.Module):
    """Two convolutions with a graph break between them."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)

    def forward(self, x):
        x = self.a(x)
        torch._dynamo.graph_break()
        return self.b(x)


def test_explain_counts_graphs_and_breaks():
    x = torch.rand(1, 3, 8, 8)
    whole = explain(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), x)
    assert (whole.graph_count, whole.graph_break_count) == (1, 0)
    broken = explain(_Broken(), x)
    assert (broken.graph_count, broken.graph_break_count) == (2, 1)


def test_bad_backbone_arguments_are_explained(capsys):
    # RLAResNet needs its depth.
    assert main(['--backbone', 'RLAResNet']) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: cannot build RLAResNet with {}') and \
        'depth' in err
    assert main(['--size', '0']) == 2
