# Runs the PyTorch anchor (torch_anchor.py, unchanged, staged beside this file) on the configs our bench runs:
# val2b at 8 sequences and small at 16, eager grouped_mm (compiled: pass --compiled; it costs minutes of compile
# time per config on the GPU host).
import sys
sys.path.insert(0, sys.argv[1])
import torch, json
import torch_anchor as a
print(torch.__version__, torch.cuda.get_device_name(), flush=True)
for name, mb in (("val2b", 8), ("small", 16)):
    for compiled in ((False, True) if "--compiled" in sys.argv else (False,)):
        try:
            a.bench(a.CONFIGS[name], "grouped_mm", compiled, mb=mb)
        except Exception as e:
            print(json.dumps(dict(config=name, impl="grouped_mm", compiled=compiled, error=repr(e)[:300])), flush=True)
