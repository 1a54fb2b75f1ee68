"""tools/analysis_tools/get_flops.py against the paper's Table 11 for the
ablations whose FLOPs differ from RLA-ResNet-50's (4.17G)."""
import os.path as osp
import re

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config: (params, FLOPs) as printed in Table 11, in units of 2**20 / 2**30.
TABLE11 = {
    'r50rla_convlstm_4xb64_in1k.py': ('24.92M', '5.00G'),
    'r50_channel32_4xb64_in1k.py': ('25.55M', '4.24G'),
    'r50rla_noexchange_4xb64_in1k.py': ('24.56M', '4.11G'),
}


@pytest.mark.parametrize('name', sorted(TABLE11))
def test_params_and_flops_match_table11(name, capsys):
    from tools.analysis_tools.get_flops import main
    assert main([osp.join(REPO, 'configs', 'ablations', name)]) == 0
    text = capsys.readouterr().out
    params = re.search(r'Params: .* = (\S+) \(paper units', text).group(1)
    flops = re.search(r'FLOPs: .* = (\S+) \(paper units', text).group(1)
    assert (params, flops) == TABLE11[name]
