"""Every command of README.md runs as pasted: shell blocks parse, ``python
-c`` programs compile, and commands quoted in the text stay on one line."""
import os.path as osp
import re
import shlex
import subprocess
import textwrap
from typing import List, Tuple

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHELLS = ('bash', 'sh', 'shell', 'console')
# Words that start a command quoted in the text, e.g. `python tools/x.py`.
COMMANDS = ('python', 'python3', 'python3.11', '.venv/bin/python', 'bash',
            'pytest', 'pip', 'ln', 'time', 'source')
PYTHONS = ('python', 'python3', 'python3.11', '.venv/bin/python')
FENCE = re.compile(r'^([ \t]*)```(\w*)\n(.*?)^\1```', re.S | re.M)


def _readme() -> str:
    with open(osp.join(REPO, 'README.md')) as f:
        return f.read()


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


def _bash_parses(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', '-n'],
                          input=script,
                          capture_output=True,
                          text=True)


BLOCKS = [(line, code) for lang, line, code in fenced_blocks(_readme())
          if lang in SHELLS]
QUOTED = quoted_commands(_readme())


def test_the_readme_has_commands_to_check():
    assert len(BLOCKS) >= 10 and len(QUOTED) >= 20


@pytest.mark.parametrize('line,code', BLOCKS, ids=[str(b[0]) for b in BLOCKS])
def test_shell_block_parses(line, code):
    proc = _bash_parses(code)
    assert proc.returncode == 0, f'README.md:{line}: {proc.stderr}'
    for program in python_programs(code):
        compile(program, f'README.md:{line}', 'exec')


@pytest.mark.parametrize('line,code', QUOTED, ids=[str(q[0]) for q in QUOTED])
def test_quoted_command_is_one_line_that_parses(line, code):
    # A command wrapped over lines runs as two when its text is copied.
    assert '\n' not in code, f'README.md:{line}: wrapped command {code!r}'
    proc = _bash_parses(code)
    assert proc.returncode == 0, f'README.md:{line}: {proc.stderr}'
    for program in python_programs(code):
        compile(program, f'README.md:{line}', 'exec')


def test_python_blocks_compile():
    for lang, line, code in fenced_blocks(_readme()):
        if lang == 'python':
            compile(code, f'README.md:{line}', 'exec')


def test_wrapped_python_programs_are_caught():
    # The form of the two commands that failed when pasted.
    program, = python_programs('python -c "import torch; x =\ntorch.ones(1)"')
    with pytest.raises(SyntaxError):
        compile(program, 'README.md', 'exec')
    assert quoted_commands('see `python -c "a = 1;\nb = 2"` here') == [
        (1, 'python -c "a = 1;\nb = 2"')
    ]
