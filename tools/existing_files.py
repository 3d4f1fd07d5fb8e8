"""Filter a NUL-separated list of paths (from `git ls-files -z`) to those that exist, NUL-separated.

Used by `make sanity` so that files deleted in the working tree but still in the index are not copied.
"""

import os
import sys


def main() -> None:
    data = sys.stdin.buffer.read()
    paths = [p for p in data.split(b"\0") if p and os.path.lexists(p)]
    sys.stdout.buffer.write(b"".join(p + b"\0" for p in paths))


if __name__ == "__main__":
    main()
