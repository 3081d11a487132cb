"""paraprop models in Python: load a model or checkpoint file, predict, export.

    import paraprop
    m = paraprop.load("run/final.h5")     # verifies the seal and the fingerprint
    y = m.predict(x)                       # x: (n, inputs) as the network was trained on
    net = m.to_torch()                     # torch.nn.Sequential (needs torch)
    m.export_onnx("model.onnx")            # through torch.onnx (needs torch and onnx)

Only h5py and numpy are required; torch is imported by to_torch/export_onnx alone.
"""
from .model import Model, ModelError, load

__all__ = ["Model", "ModelError", "load"]
__version__ = "0.1.0"
