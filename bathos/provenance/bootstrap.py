"""Run a Python script as `python SCRIPT ARGS…` would, telling bathos which files it touched.

    python bootstrap.py REPORT [--path DIR]… [--code-cache DIR] SCRIPT [ARGS…]

`bth run` starts tracked scripts through this file, in the project's own interpreter, which may
not have bathos installed: it uses the standard library only, runs on Python 3.8 and later, and
is run by path. The script sees what `python SCRIPT` gives it (`sys.argv`, `sys.path[0]`, its
`__main__` module, exit codes, tracebacks and signals); each `--path DIR` is put on `sys.path`
right after the script's directory; the script's compiled code is kept in `--code-cache DIR`.
REPORT gets what the script was seen to do (`observer.py`).

A file run by path is compiled each time it runs, so this one stays small: the work is done by
`observer.py` beside it, loaded from its cached bytecode and kept out of `sys.modules`.
"""

import sys

if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]  # this file's directory: nothing may be imported from it

import os  # loaded by every interpreter's start-up

_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "observer.py")
observer = type(sys)("bathos_observer")
observer.__file__ = _path
exec(type(__loader__)("bathos_observer", _path).get_code("bathos_observer"),  # type: ignore[name-defined]
     observer.__dict__)
observer.run(__file__)
