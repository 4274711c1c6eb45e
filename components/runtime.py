"""The container image and packages the example components use on the cluster.

Pinned so a run on the cluster installs what a local run used: tests/test_components.py
checks these pins against the versions installed from uv.lock.
"""

PYTHON_IMAGE = "python:3.11.14-slim-bookworm"
SKLEARN_PACKAGES = ["pandas==3.1.1", "scikit-learn==1.9.1"]
