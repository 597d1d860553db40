"""A separate virtual environment with the stock setup (whoosh 2.7.4 and
jieba 0.42.1 share the ``whoosh`` import name with our whoosh3, so they
cannot live in the project's environment)."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STOCK_VENV = os.path.join(ROOT, ".bench", "stock-venv")
STOCK_REQUIREMENTS = ["whoosh==2.7.4", "jieba==0.42.1", "setuptools<81"]


def stock_python() -> str:
    py = os.path.join(STOCK_VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", STOCK_VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *STOCK_REQUIREMENTS], check=True)
    return py
