"""Reading paraprop's model/checkpoint files (docs/CHECKPOINTS.md) and running the network."""
import hashlib
import os

import h5py
import numpy as np

FORMAT = "paraprop-checkpoint"
SEAL_BLOCK = 4096
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")


class ModelError(ValueError):
    """A file that is not a valid paraprop model; the message names the file and the problem."""


def _text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v[()])
    return str(v)


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SEAL_COPY = SEAL_BLOCK // 2


def _parse_copy(c, copy):
    """One version-2 header copy (docs/FORMATS.md): (bytes, offset, segment, hashes) or None."""
    text, _, pad = c.partition(b"\0")
    if pad.strip(b"\0"):
        return None  # a stray byte after the text
    lines = text.decode("ascii", "replace").split("\n")
    if len(lines) < 3 or lines[-1] != "" or not lines[-2].startswith("check-sha256 "):
        return None
    body = text[: len(text) - len(lines[-2]) - 1]
    if hashlib.sha256(body).hexdigest() != lines[-2][len("check-sha256 "):]:
        return None
    if lines[:2] != ["paraprop-seal 2", f"copy {copy} of 2"]:
        return None
    return _parse_body(lines[2:-2])


def _parse_body(lines):
    try:
        fields = [line.split(" ", 1) for line in lines]
        (kb, nbytes), (ko, offset), (ks, segment) = fields[:3]
        if (kb, ko, ks) != ("bytes", "offset", "segment"):
            return None
        nbytes, offset, segment = int(nbytes), int(offset), int(segment)
        hashes = [v for k, v in fields[3:] if k == "sha256" and len(v) == 64]
    except ValueError:
        return None
    if len(hashes) != len(fields) - 3 or segment <= 0 or offset != SEAL_BLOCK:
        return None
    if nbytes < offset or len(hashes) != -(-(nbytes - offset) // segment):
        return None
    return nbytes, offset, segment, hashes


def _check_seal(path):
    """Verifies the SHA-256 seal in the user block (docs/FORMATS.md), as paraprop does before
    HDF5 reads the file, and fails closed like it: True when sealed and intact, False when the
    file has no user block (written by another tool); ModelError when a user block holds no
    valid seal or the bytes do not match it."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(SEAL_BLOCK)
        if head[:8] == HDF5_SIGNATURE:
            return False
        f.seek(SEAL_BLOCK)
        if len(head) < SEAL_BLOCK or f.read(8) != HDF5_SIGNATURE:
            raise ModelError(f"{path}: damaged seal: no 4096-byte paraprop seal in front of the "
                             "HDF5 data")
        copies = [_parse_copy(head[:SEAL_COPY], 1), _parse_copy(head[SEAL_COPY:], 2)]
        valid = [c for c in copies if c]
        if len(valid) == 2 and valid[0] != valid[1]:
            raise ModelError(f"{path}: damaged seal: its two copies disagree")
        if not valid and head.startswith(b"paraprop-seal 1\n"):  # an older paraprop's seal
            text, _, pad = head.partition(b"\0")
            legacy = None if pad.strip(b"\0") else _parse_body(
                text.decode("ascii", "replace").split("\n")[1:-1])
            valid = [legacy] if legacy else []
        if not valid:
            raise ModelError(f"{path}: damaged seal: the user block holds no valid paraprop "
                             "seal")
        nbytes, offset, segment, hashes = valid[0]
        if nbytes != size:
            raise ModelError(f"{path}: damaged: the file is {size} bytes but paraprop wrote "
                             f"{nbytes} (truncated or extended)")
        f.seek(offset)
        for i, want in enumerate(hashes):
            lo = offset + i * segment
            data = f.read(min(segment, nbytes - lo))
            if hashlib.sha256(data).hexdigest() != want:
                raise ModelError(f"{path}: damaged: bytes {lo}…{lo + len(data) - 1} do not match "
                                 "the SHA-256 checksum in the file's seal")
    return True


def _fingerprint(weights, biases):
    h = hashlib.sha256()
    for w, b in zip(weights, biases):
        for v in (w, b):
            h.update(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def _apply(name, z):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "identity":
        return z
    e = np.exp(z - z.max(axis=1, keepdims=True))  # softmax, maximum subtracted
    return e / e.sum(axis=1, keepdims=True)


class Model:
    """A trained network: layer_sizes [n0 … nL], activations [L], cost, weights[l] (n_l, n_l−1)
    and biases[l] (n_l) for l = 0 … L−1, fingerprint; from a checkpoint also epoch, step,
    global_step, seed, config (dict of the resolved options), config_text, metrics (dict of
    per-epoch arrays: epoch, train_loss, test_loss, test_accuracy, seconds, samples_per_s) and
    attrs (every root attribute)."""

    def __init__(self, path, verify=True):
        self.path = path
        if not os.path.exists(path):
            raise ModelError(f"{path}: cannot open (no such file)")
        self.sealed = _check_seal(path) if verify else False
        if verify and not self.sealed:
            # as pp_model_load: only the seal protects HDF5 from damaged metadata
            raise ModelError(f"{path}: the file carries no seal (not written by paraprop, or "
                             "rewritten by another tool such as h5repack); load(path, "
                             "verify=False) reads it unverified")
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise ModelError(f"{path}: not an HDF5 file (truncated or damaged?): {e}") from None
        with f:
            self.attrs = {k: (_text(v) if isinstance(v, (bytes, str)) else v)
                          for k, v in f.attrs.items()}
            fmt = self.attrs.get("format")
            if fmt != FORMAT:
                raise ModelError(f"{path}: attribute 'format' is '{fmt}', expected '{FORMAT}'")
            if int(self.attrs.get("complete", 0)) != 1:
                raise ModelError(f"{path}: incomplete (an interrupted write): 'complete' is not 1")
            try:
                self.layer_sizes = [int(n) for n in f["model/layer_sizes"][()]]
                self.activations = [_text(s) for s in f["model/activations"][()]]
                self.cost = _text(f["model/cost"][()])
                L = len(self.layer_sizes) - 1
                self.weights = [f[f"model/layer_{l}/weights"][()] for l in range(1, L + 1)]
                self.biases = [f[f"model/layer_{l}/biases"][()] for l in range(1, L + 1)]
                self.metrics = {k: f[f"metrics/{k}"][()] for k in f["metrics"]} \
                    if "metrics" in f else {}
            except (KeyError, OSError) as e:
                raise ModelError(f"{path}: damaged or incomplete model: {e}") from None
        if L < 1 or len(self.activations) != L or any(a not in ACTIVATIONS for a in self.activations):
            raise ModelError(f"{path}: bad /model/activations {self.activations}")
        for l, (w, b) in enumerate(zip(self.weights, self.biases), start=1):
            if w.shape != (self.layer_sizes[l], self.layer_sizes[l - 1]) or \
                    b.shape != (self.layer_sizes[l],):
                raise ModelError(f"{path}: layer {l} has weights {w.shape} and biases {b.shape}, "
                                 f"expected ({self.layer_sizes[l]}, {self.layer_sizes[l - 1]})")
        self.fingerprint = _fingerprint(self.weights, self.biases)
        stored = self.attrs.get("fingerprint")
        if verify and stored != self.fingerprint:
            raise ModelError(f"{path}: the parameters' SHA-256 {self.fingerprint} differs from "
                             f"the stored fingerprint {stored}")
        self.config_text = self.attrs.get("config", "")
        self.config = {}
        for line in self.config_text.splitlines():
            key, eq, value = line.partition("=")
            if eq and not key.lstrip().startswith("#"):
                self.config[key.strip()] = value.strip()
        for k in ("epoch", "step", "global_step", "seed", "samples_seen", "batch_size"):
            if k in self.attrs:
                setattr(self, k, int(self.attrs[k]))

    @property
    def inputs(self):
        return self.layer_sizes[0]

    @property
    def outputs(self):
        return self.layer_sizes[-1]

    def predict(self, x, dtype=np.float64):
        """Outputs (n, outputs) for inputs x (n, inputs) or (inputs,): the values the network was
        trained on (a dataset's float32 inputs, or uint8 × scale). Computed in dtype (float64 by
        default: within float32 rounding of paraprop's own outputs)."""
        a = np.asarray(x, dtype=dtype)
        one = a.ndim == 1
        a = a.reshape(1, -1) if one else a
        if a.ndim != 2 or a.shape[1] != self.inputs:
            raise ValueError(f"expected inputs of shape (n, {self.inputs}), got {np.shape(x)}")
        for w, b, name in zip(self.weights, self.biases, self.activations):
            a = _apply(name, a @ w.T.astype(dtype) + b.astype(dtype))
        return a[0] if one else a

    def classes(self, x):
        """The predicted class of each row (index of the largest output)."""
        return np.atleast_2d(self.predict(x)).argmax(axis=1)

    def to_torch(self):
        """A torch.nn.Sequential of Linear layers and activations with these parameters (float32
        like paraprop's default build). Needs torch."""
        import torch
        from torch import nn

        mods = []
        make = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "identity": nn.Identity,
                "softmax": lambda: nn.Softmax(dim=-1)}
        for w, b, name in zip(self.weights, self.biases, self.activations):
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)))
            mods += [lin, make[name]()]
        return nn.Sequential(*mods).eval()

    def export_onnx(self, path, opset=13):
        """Writes the network as an ONNX file through torch.onnx: input "inputs" (n, inputs),
        output "outputs" (n, outputs), n dynamic. Needs torch (and onnx to check the file)."""
        import torch

        net = self.to_torch()
        dummy = torch.zeros(1, self.inputs, dtype=torch.float32)
        torch.onnx.export(net, dummy, path, input_names=["inputs"], output_names=["outputs"],
                          dynamic_axes={"inputs": {0: "n"}, "outputs": {0: "n"}},
                          opset_version=opset)
        return path

    def __repr__(self):
        arch = ",".join(map(str, self.layer_sizes))
        return (f"<paraprop.Model {arch} {'/'.join(self.activations)} cost={self.cost} "
                f"fingerprint={self.fingerprint[:12]}… from {self.path}>")


def load(path, verify=True):
    """Loads a model (final.h5) or checkpoint; with verify (default) requires and checks the
    seal and the stored fingerprint like pp_model_load. Raises ModelError naming the file on a
    bad file."""
    return Model(path, verify=verify)
