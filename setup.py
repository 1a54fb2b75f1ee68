from setuptools import find_packages, setup


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
    license='Apache License 2.0',
    zip_safe=False,
)
