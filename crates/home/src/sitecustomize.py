# Written by `macaroon exec` and `macaroon-proxy ca` (both embed this one file) into
# $MACAROON_HOME/python, which they put first on PYTHONPATH. Python SDKs that ship their
# own CA bundle (stripe) or read certifi directly would refuse the proxy's certificates;
# point them at the bundle in SSL_CERT_FILE (system roots plus the proxy CA) when they are
# imported. Nothing else changes, and a sitecustomize found further along sys.path still
# runs.
import os
import sys

_BUNDLE = os.environ.get("SSL_CERT_FILE")


def _patch(name, module):
    if name == "stripe":
        module.ca_bundle_path = _BUNDLE
    elif name == "certifi":
        module.where = lambda: _BUNDLE


class _MacaroonCaHook:
    names = ("stripe", "certifi")

    def find_spec(self, name, path=None, target=None):
        if name not in self.names or not _BUNDLE:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module, _run=run, _name=name):
            _run(module)
            _patch(_name, module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _MacaroonCaHook())

_here = os.path.dirname(os.path.abspath(__file__))
try:
    import importlib.machinery
    import importlib.util

    _spec = importlib.machinery.PathFinder.find_spec(
        "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here]
    )
    if _spec is not None and _spec.loader is not None:
        _mod = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_mod)
except Exception:
    pass
