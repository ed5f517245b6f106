"""The Wav2CLIP audio encoder (Wu et al., "Wav2CLIP", ICASSP 2022), written from its description.

Power spectrogram inside the model (n_fft 512, hop 353, periodic Hann, centred with reflect padding) → log(x +
1e-7) → standardisation → ResNet-18 on a 1-channel "image" → global average pool (512) → MLP 512→512→512 (ReLU
between). The ResNet keeps its unused 1000-way classifier ``fc`` so that the original checkpoint
(``Wav2CLIP.pt``) loads with ``strict=True`` after :func:`map_original_names`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

N_FFT = 512
HOP = 353
EMBED_DIM = 512


class BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 conv-BN layers with an identity (or 1×1 conv-BN) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward_1d(self, x: torch.Tensor) -> torch.Tensor:
        """The same block on (B, C, H) when the 2-D input is one column wide (eval mode): a 3×3 conv with
        padding 1 then only sees its kernel's middle column, a 1×1 conv its only tap."""
        out = F.relu(_bn(self.bn1, F.conv1d(x, self.conv1.weight[..., 1], None, self.conv1.stride[0], 1)))
        out = _bn(self.bn2, F.conv1d(out, self.conv2.weight[..., 1], None, 1, 1))
        if self.downsample is not None:
            conv, bn = self.downsample[0], self.downsample[1]
            x = _bn(bn, F.conv1d(x, conv.weight[..., 0], None, conv.stride[0]))
        return F.relu(out + x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet18(nn.Module):
    """ResNet-18 over a 1-channel spectrogram, returning the 512-D average-pooled embedding."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin = (64, 128, 256, 512), 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            self.add_module(f"layer{i + 1}", nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w)))
            cin = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)  # trained classifier head, unused for embeddings
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, mean=1.0, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == 2 and not self.training:  # one 512-sample window: 2 spectrogram frames
            return self.forward_1d(x)
        return self.forward_2d(x)

    def forward_2d(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) log spectrogram → (B, 512)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward_1d(self, x: torch.Tensor) -> torch.Tensor:
        """Exact 1-D rewrite of :meth:`forward` for (B, 1, H, 2) inputs (about 3× fewer multiply-adds): the
        7×7 stride-2 stem maps the 2 columns to 1 through kernel columns 3 and 4, after which every feature
        map is one column wide."""
        stem = self.conv1.weight[:, 0, :, 3:5].transpose(1, 2)  # (64, 2 input columns, 7)
        x = F.relu(_bn(self.bn1, F.conv1d(x[:, 0].transpose(1, 2), stem, None, 2, 3)))
        x = F.max_pool1d(x, 3, 2, 1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                x = block.forward_1d(x)
        return x.mean(dim=2)


def _bn(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode BatchNorm2d applied to a (B, C, H) tensor."""
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


class Wav2CLIPAudioEncoder(nn.Module):
    """Waveform (B, N) → 512-D Wav2CLIP embedding. Standardisation statistics can be passed in (``mean``,
    ``std``) so that a song split into batches is normalised as one batch, like the original extraction."""

    def __init__(self) -> None:
        super().__init__()
        self.window: torch.Tensor
        self.register_buffer("window", torch.hann_window(N_FFT))
        self.resnet = ResNet18()
        self.projection = nn.Sequential(nn.Linear(EMBED_DIM, EMBED_DIM), nn.ReLU(), nn.Linear(EMBED_DIM, EMBED_DIM))

    def log_spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N) waveform → (B, 1, 257, frames) log power spectrogram."""
        spec = torch.stft(x, N_FFT, HOP, N_FFT, self.window, center=True, pad_mode="reflect", return_complex=True)
        return torch.log(spec.abs().pow(2) + 1e-7).unsqueeze(1)

    def embed(self, logspec: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Standardise with ``(x - mean) / (std + 1e-9)``, then ResNet-18 and the MLP."""
        return self.projection(self.resnet((logspec - mean) / (std + 1e-9)))

    def forward(
        self, x: torch.Tensor, mean: torch.Tensor | None = None, std: torch.Tensor | None = None
    ) -> torch.Tensor:
        logspec = self.log_spectrogram(x)
        if mean is None or std is None:  # statistics of this batch, as the original model computes them
            mean, std = logspec.mean(), logspec.std()
        return self.embed(logspec, mean, std)


# Original Wav2CLIP checkpoint names (``state_dict`` of its Lightning module) → ours, as prefix rewrites.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("audio_encoder.spectrogram.window", "window"),
    ("audio_encoder.", "resnet."),
    ("audio_transform.sequential.0.", "projection.0."),
    ("audio_transform.sequential.3.", "projection.2."),
)


def _rewrite(key: str, pairs: tuple[tuple[str, str], ...]) -> str | None:
    for src, dst in pairs:
        if key == src or (src.endswith(".") and key.startswith(src)):
            return dst + key[len(src) :]
    return None


def is_original_state_dict(state: Mapping[str, object]) -> bool:
    """True when ``state`` uses the original project's parameter names (``audio_encoder.…``)."""
    return any(k.startswith(("audio_encoder.", "audio_transform.")) for k in state)


def map_original_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an original Wav2CLIP state dict to this module's names; keys of other towers are dropped."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = _rewrite(key, _PREFIXES)
        if new is not None:
            out[new] = value
    return out


def to_original_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`map_original_names` (this module's names → the original checkpoint's)."""
    inverse = tuple((dst, src) for src, dst in _PREFIXES)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = _rewrite(key, inverse)
        if new is None:
            raise KeyError(f"no original name for parameter {key!r}")
        out[new] = value
    return out
