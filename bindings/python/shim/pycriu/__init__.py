import sys, libcriu.pycriu as m  # noqa: E401 -- `import pycriu` and its submodules become libcriu's
sys.modules.update({__name__ + k[len(m.__name__):]: v for k, v in list(sys.modules.items()) if k == m.__name__ or k.startswith(m.__name__ + ".")})
