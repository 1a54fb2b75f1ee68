"""Every command of the README and the docs runs as pasted: shell blocks
parse, ``python -c`` programs compile, and commands quoted in the text stay
on one line. Every relative link and anchor resolves, the README stays a
short manual, and its model zoo repeats the counts of the paper tables."""
import glob
import os.path as osp
import re
import shlex
import subprocess
import textwrap
from typing import Dict, List, Set, Tuple

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHELLS = ('bash', 'sh', 'shell', 'console')
# Words that start a command quoted in the text, e.g. `python tools/x.py`.
COMMANDS = ('python', 'python3', 'python3.11', '.venv/bin/python', 'bash',
            'pytest', 'pip', 'ln', 'time', 'source')
PYTHONS = ('python', 'python3', 'python3.11', '.venv/bin/python')
FENCE = re.compile(r'^([ \t]*)```(\w*)\n(.*?)^\1```', re.S | re.M)
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
# The user manual; mmpretrain's top-level README is 339 lines.
README_MAX_LINES = 400


def _markdown_files() -> List[str]:
    """The README, the release notes, the docs and the config READMEs,
    relative to the repository."""
    files = ['README.md', 'CHANGELOG.md']
    files += sorted(glob.glob('docs/*.md', root_dir=REPO))
    files += sorted(
        glob.glob('configs/**/README.md', root_dir=REPO, recursive=True))
    return files


def _read(path: str) -> str:
    with open(osp.join(REPO, path)) as f:
        return f.read()


def _readme() -> str:
    return _read('README.md')


def fenced_blocks(text: str) -> List[Tuple[str, int, str]]:
    """``(language, line number, code)`` of every fenced block."""
    blocks = []
    # Fences may be indented, e.g. in a list item.
    for match in FENCE.finditer(text):
        line = text.count('\n', 0, match.start()) + 1
        blocks.append((match.group(2), line, textwrap.dedent(match.group(3))))
    return blocks


def quoted_commands(text: str) -> List[Tuple[int, str]]:
    """``(line number, code)`` of the commands quoted in the text (outside
    fenced blocks) as inline code."""
    prose = FENCE.sub(lambda m: '\n' * m.group().count('\n'), text)
    commands = []
    for match in re.finditer(r'`([^`]+)`', prose):
        words = match.group(1).split()
        # Skip environment assignments, e.g. `FORCE_CUDA=1 bash ...`.
        while words and re.match(r'^[A-Z_]+=\S*$', words[0]):
            words = words[1:]
        if words and words[0] in COMMANDS:
            line = prose.count('\n', 0, match.start()) + 1
            commands.append((line, match.group(1)))
    return commands


def python_programs(script: str) -> List[str]:
    """The programs given to ``python -c`` in a shell script."""
    # Newlines between commands separate words like spaces do here; a
    # backslash-newline continues the line.
    words = shlex.split(script.replace('\\\n', ' '), comments=True)
    return [
        words[i + 2] for i, word in enumerate(words[:-2])
        if word in PYTHONS and words[i + 1] == '-c'
    ]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation
    dropped (except ``-`` and ``_``), spaces as hyphens."""
    text = re.sub(r'[`*]', '', heading.strip().lower())
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(text: str) -> Set[str]:
    """The anchors of the headings of a markdown text (fenced blocks
    excluded), with GitHub's ``-1``, ``-2`` suffixes for repeats."""
    prose = FENCE.sub(lambda m: '\n' * m.group().count('\n'), text)
    seen: Dict[str, int] = {}
    found = set()
    for match in re.finditer(r'^#{1,6} (.+)$', prose, re.M):
        anchor = github_anchor(match.group(1))
        count = seen.get(anchor, 0)
        found.add(anchor if count == 0 else f'{anchor}-{count}')
        seen[anchor] = count + 1
    return found


def links(text: str) -> List[Tuple[int, str]]:
    """``(line number, target)`` of the markdown links and images outside
    fenced blocks."""
    prose = FENCE.sub(lambda m: '\n' * m.group().count('\n'), text)
    return [(prose.count('\n', 0, m.start()) + 1, m.group(1))
            for m in LINK.finditer(prose)]


def _bash_parses(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', '-n'],
                          input=script,
                          capture_output=True,
                          text=True)


FILES = _markdown_files()
BLOCKS = [(path, line, code) for path in FILES
          for lang, line, code in fenced_blocks(_read(path)) if lang in SHELLS]
QUOTED = [(path, line, code) for path in FILES
          for line, code in quoted_commands(_read(path))]
LINKS = [(path, line, target) for path in FILES
         for line, target in links(_read(path))
         if not re.match(r'^[a-z]+:', target)]


def _id(item) -> str:
    return f'{item[0]}:{item[1]}'


def test_the_docs_have_commands_to_check():
    assert {
        'README.md', 'docs/README.md', 'docs/training.md', 'docs/detection.md'
    } <= set(FILES)
    assert len(BLOCKS) >= 40 and len(QUOTED) >= 40 and len(LINKS) >= 100


@pytest.mark.parametrize('path,line,code', BLOCKS, ids=map(_id, BLOCKS))
def test_shell_block_parses(path, line, code):
    proc = _bash_parses(code)
    assert proc.returncode == 0, f'{path}:{line}: {proc.stderr}'
    for program in python_programs(code):
        compile(program, f'{path}:{line}', 'exec')


@pytest.mark.parametrize('path,line,code', QUOTED, ids=map(_id, QUOTED))
def test_quoted_command_is_one_line_that_parses(path, line, code):
    # A command wrapped over lines runs as two when its text is copied.
    assert '\n' not in code, f'{path}:{line}: wrapped command {code!r}'
    proc = _bash_parses(code)
    assert proc.returncode == 0, f'{path}:{line}: {proc.stderr}'
    for program in python_programs(code):
        compile(program, f'{path}:{line}', 'exec')


@pytest.mark.parametrize('path', FILES)
def test_python_blocks_compile(path):
    for lang, line, code in fenced_blocks(_read(path)):
        if lang == 'python':
            compile(code, f'{path}:{line}', 'exec')


@pytest.mark.parametrize('path,line,target', LINKS, ids=map(_id, LINKS))
def test_relative_link_resolves(path, line, target):
    file, _, anchor = target.partition('#')
    resolved = osp.normpath(osp.join(REPO, osp.dirname(path), file)) \
        if file else osp.join(REPO, path)
    assert osp.exists(resolved), f'{path}:{line}: {target} does not exist'
    if anchor:
        assert resolved.endswith('.md'), f'{path}:{line}: {target}'
        with open(resolved) as f:
            assert anchor in anchors(f.read()), \
                f'{path}:{line}: no heading of {file or path} has #{anchor}'


def test_the_readme_is_a_short_manual():
    readme = _readme()
    assert readme.count('\n') <= README_MAX_LINES
    contents = readme.split('## Contents')[1].split('\n## ')[0]
    entries = re.findall(r'^- \[(.+)\]\(#(.+)\)$', contents, re.M)
    # Every section is in the table of contents, in order.
    sections = [
        github_anchor(h)
        for h in re.findall(r'^## (.+)$', FENCE.sub('', readme), re.M)
    ]
    assert [anchor for _, anchor in entries] == \
        [s for s in sections if s != 'contents']


def test_the_readme_gives_each_tasks_command():
    """A newcomer finds the command of each task in the section that the
    table of contents names for it."""
    readme = _readme()

    def commands(heading: str) -> str:
        section = readme.split(f'\n## {heading}\n')[1].split('\n## ')[0]
        return '\n'.join(code for lang, _, code in fenced_blocks(section)
                         if lang in SHELLS)

    cls = commands('Classification: train, test, evaluate')
    assert 'python tools/train.py configs/r50rla_4xb64_in1k.py' in cls
    assert 'python tools/test.py configs/r50rla_4xb64_in1k.py' in cls
    det = commands('Detection: train, test, evaluate on COCO')
    assert 'python tools/train.py configs/faster_rcnn_r50rla_fpn_1x_coco.py' \
        in det
    assert 'python tools/test.py configs/faster_rcnn_r50rla_fpn_1x_coco.py' \
        in det
    assert 'bash tools/dist_train.sh configs/faster_rcnn_r50rla_fpn_1x_coco' \
        in det
    cluster = commands('Training on a cluster')
    assert 'bash tools/dist_train.sh CONFIG' in cluster
    assert 'bash tools/slurm_train.sh' in cluster
    tests = commands('Development and tests')
    # CI runs exactly this command (.ci/run).
    assert 'bash tools/run_tests.sh' in tests
    assert 'bash tools/run_tests.sh' in _read('.ci/run')
    assert 'pytest -m "not slow"' in tests


def test_the_docs_index_lists_every_page():
    index = _read('docs/README.md')
    pages = {osp.basename(p) for p in FILES if p.startswith('docs/')}
    listed = set(re.findall(r'\]\(([\w.]+\.md)\)', index))
    assert listed == pages - {'README.md'}


def test_wrapped_python_programs_are_caught():
    # The form of the two commands that failed when pasted.
    program, = python_programs('python -c "import torch; x =\ntorch.ones(1)"')
    with pytest.raises(SyntaxError):
        compile(program, 'README.md', 'exec')
    assert quoted_commands('see `python -c "a = 1;\nb = 2"` here') == [
        (1, 'python -c "a = 1;\nb = 2"')
    ]


def test_anchors_follow_github():
    assert github_anchor("Results (the paper's)") == 'results-the-papers'
    assert github_anchor('`RLAResNet`') == 'rlaresnet'
    assert github_anchor('The recipe and the 45k/5k split') == \
        'the-recipe-and-the-45k5k-split'
    assert anchors('# A\n## A\n```\n# not a heading\n```\n') == {'a', 'a-1'}
    assert links('[x](a.md#b) ![y](img.png)\n```\n[z](c.md)\n```') == [
        (1, 'a.md#b'), (1, 'img.png')
    ]


def _table_rows(text: str, config_column: int) -> Dict[str, List[str]]:
    """The rows of the markdown tables in ``text`` by the config file that
    their ``config_column`` links to."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) <= config_column:
            continue
        config = re.search(r'\(([^)]*\.py)\)', cells[config_column])
        if config:
            rows[osp.basename(config.group(1))] = cells
    return rows


def test_zoo_counts_agree_with_the_paper_tables():
    """The README's model zoo repeats the counts that paper_tables.md gives
    beside the paper's (`ours`), so the two cannot drift apart."""
    zoo = _readme().split('## Model zoo')[1].split('\n## ')[0]
    zoo_rows = _table_rows(zoo, 4)
    table3 = _read('docs/paper_tables.md').split('## ImageNet, Table 3')[1]
    table3 = table3.split('\n## ')[0]
    paper_rows = _table_rows(table3, 1)
    assert len(paper_rows) == 8 and len(zoo_rows) == 20
    for config, cells in paper_rows.items():
        params, flops = (c.split(' / ')[1] for c in cells[2:4])
        assert zoo_rows[config][1:3] == [params, flops], config
        top1 = cells[4].split(' ')[0]
        assert zoo_rows[config][3] == f'top-1 err. {top1}', config
    coco = _read('docs/paper_tables.md').split('## COCO, Tables 4 and 5')[1]
    det_rows = _table_rows(coco.split('\n## ')[0], 0)
    assert len(det_rows) == 12
    for config, cells in det_rows.items():
        assert zoo_rows[config][1:3] == [cells[2], cells[4]], config
