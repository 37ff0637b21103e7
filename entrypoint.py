"""Entry point of the composite action: `python3 entrypoint.py` with inputs in INPUT_* variables."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaniko_action.main import main

if __name__ == "__main__":
    sys.exit(main(os.path.abspath(__file__), sys.argv[1:]))
