import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

# What mmrla.apis.model_index_root() and mmengine's inferencers look for in
# an installed package: the model index and the configs it names.
# The metafiles sit beside their family's configs
# (configs/*/metafile.yml, listed by model-index.yml).
MIM_FILES = ('model-index.yml', 'configs')


def get_version() -> str:
    namespace: dict = {}
    with open('mmrla/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def parse_requirements(path: str) -> list:
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.strip() and not line.startswith('#')
        ]


def add_mim_extension() -> None:
    """Copy the model index and the configs into ``mmrla/.mim`` when
    building a wheel or an sdist, as OpenMMLab packages do, so that models
    by name (``mmpretrain.get_model``) work from an installed wheel. An
    editable install reads them from the source tree and copies nothing."""
    if not {'bdist_wheel', 'sdist', 'install', 'build'} & set(sys.argv):
        return
    here = osp.dirname(osp.abspath(__file__))
    mim = osp.join(here, 'mmrla', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(here, name), osp.join(mim, name)
        if osp.isdir(dst):
            shutil.rmtree(dst)
        elif osp.exists(dst):
            os.remove(dst)
        if osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


add_mim_extension()
setup(
    name='mmrla',
    version=get_version(),
    description='RLA-Net (Recurrent Layer Aggregation) for mmpretrain 1.x '
    'and mmdet 3.x',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    python_requires='>=3.8',
    install_requires=parse_requirements('requirements/runtime.txt'),
    package_data={
        'mmrla': [
            '.mim/model-index.yml', '.mim/configs/**/*.py',
            '.mim/configs/**/*.yml'
        ]
    },
    license='Apache License 2.0',
    zip_safe=False,
)
