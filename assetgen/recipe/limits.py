"""The bounds every recipe and project file is held to, in one place (the README lists them).

Any input, however small its file, must lint and plan in well under a second and in bounded
memory: a value past one of these limits is a `FILE:LINE:COL` error, found before the work it
would cost is done (a matrix's size is known before it is expanded, a string's before it is built).
"""

from __future__ import annotations

MAX_FILE_BYTES = 2_000_000   # a recipe file or assetgen.yaml
MAX_YAML_VALUES = 100_000    # values in one file once aliases are expanded ("billion laughs")
MAX_YAML_DEPTH = 64          # nesting, aliases expanded: deeper would exhaust the stack
MAX_VARIANTS = 10_000        # variants one recipe file makes: matrix products plus include entries
MAX_EXCLUDE = 1_000          # exclude entries on one asset

# Templates (Jinja2, in a sandbox)
MAX_TEXT = 100_000           # characters of any string a template builds or renders
MAX_ITEMS = 100_000          # items of any list a template builds
MAX_INT_BITS = 4_096         # size of any integer a template computes (about 1,233 digits)
MAX_STEPS = 100_000          # loop turns, calls and filters one rendering may take
MAX_FILE_STEPS = 4_000_000   # and all the renderings of one recipe file together (every variant)

# Paths (inputs, masks, outputs; the project's recipe globs)
MAX_NAME_BYTES = 255         # one file or folder name, in UTF-8 (the usual file system limit)
MAX_PATH_BYTES = 1_024       # a whole project-relative path, in UTF-8


def count(n: int) -> str:
    """10000 -> '10,000' (limits read better with separators)."""
    return f"{n:,}"
