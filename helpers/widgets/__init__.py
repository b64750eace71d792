"""Interactive explorers for convolution, channels, pooling and trained networks.

Four ``anywidget.AnyWidget`` classes. Their arithmetic and drawing run in the
browser (the ``.js`` and ``.css`` files next to this one), so they keep
working in the static HTML book with no kernel, as well as in Jupyter and
Colab. With a kernel, what the reader picks is synced back to the Python
traits, so a later cell can read ``explorer.stride`` or ``explorer.Y`` and
compare against torch.

- ``ConvExplorer``: one input, one kernel (or a pooling window); sliders for
  input size, kernel size, padding, stride and dilation.
- ``ChannelExplorer``: several input and output channels, as in nn.Conv2d.
- ``KernelPlayground``: preset or hand-typed 3x3 kernels on a real photo.
- ``NetworkExplorer``: a trained network run in the page on a digit the reader
  draws, every layer's feature maps and the class probabilities.

Settings that cannot work raise ``ValueError`` when set from Python; in the
browser they show a message instead of a drawing. Nothing here prints.
"""

from helpers.widgets._base import ExplorerError, bundle
from helpers.widgets.channel_explorer import ChannelExplorer
from helpers.widgets.conv_explorer import MODES, ConvExplorer
from helpers.widgets.kernel_playground import PRESETS, KernelPlayground
from helpers.widgets.network_explorer import NetworkExplorer

__all__ = ["ConvExplorer", "ChannelExplorer", "KernelPlayground", "NetworkExplorer", "ExplorerError", "MODES", "PRESETS", "bundle"]
